/**
 * The SSRF guard of the page fetcher: which addresses a fetched URL may reach. SERP URLs, sheet
 * cells and redirects are untrusted, so by default nothing private, local or cloud-internal is
 * reachable. The check runs inside the socket's DNS lookup (see {@link guardedLookup}), so the
 * address that is checked is the address connected to and DNS rebinding cannot slip past it.
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

export interface GuardOptions {
  /**
   * Allow private, loopback, link-local, CGNAT and unique-local addresses (a crawler inside a
   * company network). Cloud metadata endpoints stay blocked unless listed in `allowAddresses`.
   * @default false
   */
  allowPrivate?: boolean;
  /**
   * Addresses (`127.0.0.1`, `::1`), CIDR ranges (`10.1.0.0/16`) or host names
   * (`metadata.google.internal`) reachable whatever the rules above say. Tests list `127.0.0.1`.
   * @default []
   */
  allowAddresses?: readonly string[];
}

type Family = 'ipv4' | 'ipv6';

/** Ranges that are not the public internet (RFC 6890 special-purpose registries). */
const PRIVATE_RANGES: readonly [string, number, Family, string][] = [
  ['0.0.0.0', 8, 'ipv4', '"this network"'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'unique-local'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
];
/**
 * NAT64 and IPv4-mapped addresses reach IPv4 hosts through an IPv6 address. Checked for IPv6
 * addresses only: BlockList matches an IPv4 address against IPv6 rules as its mapped form, so
 * `::ffff:0:0/96` in the main list would block every IPv4 address.
 */
const V6_ONLY_RANGES: readonly [string, number, string][] = [
  ['64:ff9b::', 96, 'NAT64'],
  ['::ffff:0:0', 96, 'IPv4-mapped'],
];

/** Instance metadata services (AWS, ECS, GCP, Azure, Alibaba): credentials live there. */
const METADATA_ADDRESSES: readonly [string, Family][] = [
  ['169.254.169.254', 'ipv4'],
  ['169.254.170.2', 'ipv4'],
  ['100.100.100.200', 'ipv4'],
  ['fd00:ec2::254', 'ipv6'],
];
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.internal']);

const privateList = new BlockList();
for (const [net, prefix, family] of PRIVATE_RANGES) privateList.addSubnet(net, prefix, family);
const v6OnlyLists = V6_ONLY_RANGES.map(([net, prefix, label]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, 'ipv6');
  return [list, label] as const;
});
const metadataList = new BlockList();
for (const [address, family] of METADATA_ADDRESSES) metadataList.addAddress(address, family);

function rangeLabel(address: string): string {
  const family: Family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  for (const [net, prefix, fam, label] of PRIVATE_RANGES) {
    const one = new BlockList();
    one.addSubnet(net, prefix, fam);
    if (one.check(address, family)) return label;
  }
  return 'private';
}

/** A compiled guard: answers "why is this blocked" (undefined when allowed). */
export interface Guard {
  /** Reason the host name is refused before any DNS lookup, or undefined. */
  checkHost(hostname: string): string | undefined;
  /** Reason the IP address is refused, or undefined. */
  checkAddress(address: string): string | undefined;
}

export function createGuard(options: GuardOptions = {}): Guard {
  const allowList = new BlockList();
  const allowHosts = new Set<string>();
  for (const entry of options.allowAddresses ?? []) {
    const [net, prefix] = entry.split('/');
    const ver = isIP(net ?? '');
    if (ver === 0) {
      allowHosts.add(entry.toLowerCase());
      continue;
    }
    const family: Family = ver === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) allowList.addAddress(net!, family);
    else allowList.addSubnet(net!, Number(prefix), family);
  }

  const checkAddress = (address: string): string | undefined => {
    const ver = isIP(address);
    if (ver === 0) return `not an IP address: ${address}`;
    const family: Family = ver === 6 ? 'ipv6' : 'ipv4';
    if (allowList.check(address, family)) return undefined;
    if (metadataList.check(address, family)) return `address ${address} is a cloud metadata endpoint`;
    if (!options.allowPrivate && privateList.check(address, family)) {
      return `address ${address} is ${rangeLabel(address)}, not public`;
    }
    // Mapped and NAT64 forms are refused even when their IPv4 is public: no DNS answer needs them.
    const v6only = family === 'ipv6' ? v6OnlyLists.find(([list]) => list.check(address, 'ipv6')) : undefined;
    if (v6only) return `address ${address} is ${v6only[1]}, not public`;
    return undefined;
  };

  return {
    checkAddress,
    checkHost(hostname) {
      const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
      if (allowHosts.has(host)) return undefined;
      if (isIP(host)) return checkAddress(host);
      if (METADATA_HOSTS.has(host)) return `host ${host} is a cloud metadata endpoint`;
      return undefined;
    },
  };
}

/** Thrown from the lookup when every resolved address is refused. */
export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `http.request`/`net.connect` that resolves the name itself and hands the socket
 * only addresses the guard allows. Handles `all: true`, which Node asks for when it races IPv4
 * and IPv6 (autoSelectFamily).
 */
export function guardedLookup(guard: Guard) {
  return (hostname: string, options: { family?: number | string; all?: boolean; hints?: number }, callback: LookupCallback): void => {
    const family = options.family === 'IPv6' ? 6 : options.family === 'IPv4' ? 4 : Number(options.family ?? 0);
    dnsLookup(hostname, { all: true, family: family === 4 || family === 6 ? family : 0, hints: options.hints ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '');
      const allowed = addresses.filter((a) => guard.checkAddress(a.address) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0]?.address ?? hostname;
        return callback(new BlockedAddressError(`${hostname} resolves to a blocked address: ${guard.checkAddress(first) ?? first}`), '');
      }
      if (options.all) return callback(null, allowed);
      const one = allowed[0]!;
      callback(null, one.address, one.family);
    });
  };
}

/** One entry of a step's `allowHosts`: a host (any port) or host and port. */
export interface AllowedHost {
  /** As `URL.hostname` spells it: lower-case, IPv6 in brackets, IPv4 in dotted decimal. */
  hostname: string;
  port?: number;
}

/**
 * Parses an `allowHosts` entry: `127.0.0.1:8080`, `intranet.local`, `[::1]:3000` or `::1`.
 * Returns undefined for anything else (a scheme, a path, a port out of range).
 */
export function parseAllowedHost(entry: string): AllowedHost | undefined {
  const text = entry.trim().toLowerCase();
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (v6) [host, port] = [`[${v6[1]}]`, v6[2]];
  else if (isIP(text) === 6) host = `[${text}]`;
  else {
    const m = /^([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?::(\d{1,5}))?$/.exec(text);
    if (!m) return undefined;
    [host, port] = [m[1]!, m[2]];
  }
  let hostname: string;
  try {
    // URL's own spelling, so that "127.1" or "[0:0::1]" compare equal to what a request URL holds.
    hostname = new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
  if (port === undefined) return { hostname };
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { hostname, port: n } : undefined;
}

/** Whether the host (and port) of `url` is one of `allowed`; a URL without a port has its scheme's. */
export function isAllowedHost(allowed: readonly AllowedHost[], url: URL): boolean {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '');
  return allowed.some((a) => a.hostname === hostname && (a.port === undefined || a.port === port));
}
