import { describe, expect, it } from 'vitest';
import { createGuard, guardedLookup, isAllowedHost, parseAllowedHost } from './guard.ts';

describe('createGuard', () => {
  const strict = createGuard();
  it.each([
    ['10.1.2.3', 'private'], ['172.20.0.1', 'private'], ['192.168.1.1', 'private'], ['127.0.0.1', 'loopback'],
    ['100.64.0.1', 'carrier-grade NAT'], ['169.254.10.10', 'link-local'], ['0.0.0.0', '"this network"'],
    ['::1', 'loopback'], ['fd12:3456::1', 'unique-local'], ['fe80::1', 'link-local'], ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'NAT64'],
  ])('refuses %s (%s)', (address, label) => {
    expect(strict.checkAddress(address)).toBe(`address ${address} is ${label}, not public`);
  });

  it('lets public addresses through', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::6810:85e5']) expect(strict.checkAddress(a)).toBeUndefined();
  });

  it('refuses IPv4-mapped and NAT64 forms even of public or allowed-private addresses', () => {
    expect(strict.checkAddress('::ffff:8.8.8.8')).toBe('address ::ffff:8.8.8.8 is IPv4-mapped, not public');
    expect(createGuard({ allowPrivate: true }).checkAddress('::ffff:10.0.0.1')).toMatch(/IPv4-mapped/);
    expect(strict.checkAddress('64:ff9b::808:808')).toMatch(/NAT64/);
  });

  it('keeps metadata endpoints blocked under allowPrivate, unless listed', () => {
    const lax = createGuard({ allowPrivate: true });
    expect(lax.checkAddress('10.0.0.1')).toBeUndefined();
    expect(lax.checkAddress('169.254.169.254')).toMatch(/cloud metadata/);
    expect(lax.checkAddress('fd00:ec2::254')).toMatch(/cloud metadata/);
    expect(lax.checkHost('metadata.google.internal.')).toMatch(/cloud metadata/);
    const listed = createGuard({ allowAddresses: ['169.254.169.254', 'metadata.google.internal'] });
    expect(listed.checkAddress('169.254.169.254')).toBeUndefined();
    expect(listed.checkHost('metadata.google.internal')).toBeUndefined();
  });

  it('allows listed addresses and ranges only', () => {
    const g = createGuard({ allowAddresses: ['127.0.0.1', '10.1.0.0/16'] });
    expect(g.checkAddress('127.0.0.1')).toBeUndefined();
    expect(g.checkAddress('127.0.0.2')).toMatch(/loopback/);
    expect(g.checkAddress('10.1.200.3')).toBeUndefined();
    expect(g.checkAddress('10.2.0.1')).toMatch(/private/);
    expect(g.checkHost('[::1]')).toMatch(/loopback/);
  });
});

describe('guardedLookup', () => {
  const lookup = (host: string, all: boolean, guard = createGuard()) =>
    new Promise<{ err: Error | null; address: unknown }>((resolve) =>
      guardedLookup(guard)(host, { all }, (err, address) => resolve({ err, address })));

  it('refuses a name that resolves to loopback, in both lookup forms', async () => {
    for (const all of [false, true]) {
      const { err } = await lookup('localhost', all);
      expect(err?.message).toMatch(/^localhost resolves to a blocked address: address (127\.0\.0\.1|::1) is loopback/);
    }
  });

  it('hands the socket only allowed addresses', async () => {
    const { err, address } = await lookup('localhost', true, createGuard({ allowAddresses: ['127.0.0.1'] }));
    expect(err).toBeNull();
    expect(address).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });
});

describe('allowHosts entries', () => {
  it('parse as host or host:port, spelled as URL spells them', () => {
    expect(parseAllowedHost('127.0.0.1:8080')).toEqual({ hostname: '127.0.0.1', port: 8080 });
    expect(parseAllowedHost(' Intranet.Local ')).toEqual({ hostname: 'intranet.local' });
    expect(parseAllowedHost('[::1]:3000')).toEqual({ hostname: '[::1]', port: 3000 });
    expect(parseAllowedHost('0:0::1')).toEqual({ hostname: '[::1]' });
    expect(parseAllowedHost('127.1')).toEqual({ hostname: '127.0.0.1' });
    for (const bad of ['http://x', 'x/y', 'x:0', 'x:65536', '', 'a b']) expect(parseAllowedHost(bad), bad).toBeUndefined();
  });

  it('match a URL by host, and by port when the entry names one (the scheme\'s default otherwise)', () => {
    const allowed = ['127.0.0.1:8080', 'intranet.local', 'wiki.local:80'].map((e) => parseAllowedHost(e)!);
    expect(isAllowedHost(allowed, new URL('http://127.0.0.1:8080/a'))).toBe(true);
    expect(isAllowedHost(allowed, new URL('http://127.0.0.1:8081/a'))).toBe(false);
    expect(isAllowedHost(allowed, new URL('https://INTRANET.local:9443/'))).toBe(true);
    expect(isAllowedHost(allowed, new URL('http://wiki.local/'))).toBe(true);
    expect(isAllowedHost(allowed, new URL('https://wiki.local/'))).toBe(false);
  });
});
