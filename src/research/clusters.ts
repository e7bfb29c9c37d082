/**
 * Keyword clusters by SERP overlap, as SEO clustering tools compute them: a keyword belongs to a
 * cluster when its top results share at least `minShared` URLs with the cluster's main keyword.
 * Main keywords are taken in order of volume (when known), then combined position weight (how
 * high it ranks the URLs other keywords rank too), so the strongest keyword of a group leads it. Overlaps come from an inverted index (URL -> keywords),
 * never from all pairs. Incremental: stored assignments keep their cluster numbers; a new keyword
 * joins the stored cluster whose main it overlaps most, and the rest form new clusters numbered on.
 */

export interface ClusterKeyword {
  keyword: string;
  country: string;
  language: string;
  /** Result URLs in ranking order (position 1 first). */
  urls: readonly string[];
  volume?: number | null;
}

export interface StoredAssignment extends ClusterKeyword {
  cluster: number;
  main: string;
}

export interface Assignment extends StoredAssignment {
  /** True when this run placed it (not read back from an earlier run). */
  placed: boolean;
}

export interface Cluster {
  cluster: number;
  country: string;
  language: string;
  main: string;
  /** Main keyword first, then by URLs shared with it, then alphabetically. */
  keywords: string[];
  /** URLs in the top results of at least two members, most shared first (at most 10). */
  sharedUrls: string[];
  volume: number | null;
}

export interface ClusterOptions {
  /** URLs two keywords' top results must share. @default 3 */
  minShared?: number;
  /** Results per keyword compared. @default 10 */
  top?: number;
}

export interface ClusterResult {
  assignments: Assignment[];
  clusters: Cluster[];
}

/** A URL as compared: no scheme, no www., no fragment, no trailing slash, host lower case. */
export function normalizeResultUrl(url: string): string {
  const u = url.trim();
  const scheme = u.indexOf('://');
  if (scheme < 1) return u;
  let start = scheme + 3;
  if (u.startsWith('www.', start)) start += 4;
  let hostEnd = start;
  while (hostEnd < u.length && u[hostEnd] !== '/' && u[hostEnd] !== '?' && u[hostEnd] !== '#') hostEnd++;
  const hash = u.indexOf('#', hostEnd);
  let rest = hash < 0 ? u.slice(hostEnd) : u.slice(hostEnd, hash);
  const q = rest.indexOf('?');
  let path = q < 0 ? rest : rest.slice(0, q);
  while (path.endsWith('/')) path = path.slice(0, -1);
  rest = q < 0 ? path : path + rest.slice(q);
  return u.slice(start, hostEnd).toLowerCase() + rest;
}

const groupOf = (k: { country: string; language: string }) => `${k.country}\n${k.language}`;
const keyOf = (k: { keyword: string; country: string; language: string }) => `${k.keyword}\n${k.country}\n${k.language}`;

/** Clusters `current` (this run's keywords) together with `stored` (an earlier run's assignments). */
export function clusterKeywords(current: readonly ClusterKeyword[], stored: readonly StoredAssignment[], options: ClusterOptions = {}): ClusterResult {
  const minShared = options.minShared ?? 3;
  const top = options.top ?? 10;

  // Everyone, stored first; a keyword researched again keeps its cluster and takes today's URLs.
  const byKey = new Map<string, { kw: ClusterKeyword; cluster: number; main: string; placed: boolean }>();
  for (const s of stored) byKey.set(keyOf(s), { kw: s, cluster: s.cluster, main: s.main, placed: false });
  for (const c of current) {
    const old = byKey.get(keyOf(c));
    byKey.set(keyOf(c), old ? { ...old, kw: { ...c, volume: c.volume ?? old.kw.volume ?? null } } : { kw: c, cluster: 0, main: '', placed: true });
  }
  const all = [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, e]) => e);
  const n = all.length;

  // Inverted index: per (country, language) URL, the keywords (and positions) it ranks for.
  const urlIdsByGroup = new Map<string, Map<string, number>>();
  const urlNames: string[] = [];
  const postings: number[][] = [];
  const kwUrls: Int32Array[] = [];
  const kwPos: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const kw = all[i]!.kw;
    const group = groupOf(kw);
    let urlIds = urlIdsByGroup.get(group);
    if (!urlIds) urlIdsByGroup.set(group, urlIds = new Map());
    const m = Math.min(top, kw.urls.length);
    const ids = new Int32Array(m);
    const pos = new Int32Array(m);
    let count = 0;
    for (let p = 0; p < m; p++) {
      const url = kw.urls[p]!;
      const norm = normalizeResultUrl(url);
      let id = urlIds.get(norm);
      if (id === undefined) { id = postings.length; urlIds.set(norm, id); postings.push([]); urlNames.push(url); }
      let dup = false;
      for (let d = 0; d < count && !dup; d++) dup = ids[d] === id;
      if (dup) continue;
      ids[count] = id;
      pos[count++] = p + 1;
      postings[id]!.push(i, p + 1);
    }
    kwUrls.push(ids.subarray(0, count));
    kwPos.push(pos.subarray(0, count));
  }

  // Stored clusters: their main keyword's index.
  const mainOf = new Map<number, number>();
  let nextCluster = 1;
  const indexByKey = new Map(all.map((e, i) => [keyOf(e.kw), i]));
  for (const [i, e] of all.entries()) {
    if (e.placed) continue;
    nextCluster = Math.max(nextCluster, e.cluster + 1);
    const m = indexByKey.get(keyOf({ ...e.kw, keyword: e.main }));
    if (!mainOf.has(e.cluster) || m === i) mainOf.set(e.cluster, m ?? i);
  }

  const mains = new Set(mainOf.values());

  // Shared URLs with every keyword it overlaps, and its combined position weight: over every URL it
  // shares with another keyword, the weight of its position there (1 for #1 down to 0.1 for #10).
  const weightAt = (p: number) => (top + 1 - p) / top;
  const count = new Int32Array(n);
  const wsum = new Float64Array(n);
  const neighbours: Map<number, number>[] = [];
  const weight = new Float64Array(n);
  const none = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    // A stored keyword that leads no cluster neither moves nor takes members: nothing to compute.
    if (!all[i]!.placed && !mains.has(i)) { neighbours.push(none); continue; }
    const touched: number[] = [];
    const ids = kwUrls[i]!;
    for (let u = 0; u < ids.length; u++) {
      const post = postings[ids[u]!]!;
      const wi = weightAt(kwPos[i]![u]!);
      for (let x = 0; x < post.length; x += 2) {
        const j = post[x]!;
        if (j === i) continue;
        if (count[j] === 0) touched.push(j);
        count[j]!++;
        wsum[j]! += wi;
      }
    }
    const near = new Map<number, number>();
    for (const j of touched) {
      if (count[j]! >= minShared) near.set(j, count[j]!);
      weight[i]! += wsum[j]!;
      count[j] = 0;
      wsum[j] = 0;
    }
    neighbours.push(near);
  }

  // New keywords join the stored cluster whose main they share the most URLs with.
  const fresh = all.map((_, i) => i).filter((i) => all[i]!.placed);
  const left: number[] = [];
  for (const i of fresh) {
    let best = 0;
    let bestShared = 0;
    for (const [j, shared] of neighbours[i]!) {
      const e = all[j]!;
      if (e.placed || mainOf.get(e.cluster) !== j) continue;
      if (shared > bestShared || (shared === bestShared && e.cluster < best)) { best = e.cluster; bestShared = shared; }
    }
    if (best) { all[i]!.cluster = best; all[i]!.main = all[mainOf.get(best)!]!.kw.keyword; } else left.push(i);
  }

  // The others: strongest first, each unplaced one leads a new cluster of the unplaced it overlaps.
  const hasVolume = left.some((i) => (all[i]!.kw.volume ?? 0) > 0);
  left.sort((a, b) => (hasVolume ? (all[b]!.kw.volume ?? 0) - (all[a]!.kw.volume ?? 0) : 0) || weight[b]! - weight[a]! || a - b);
  const open = new Set(left);
  for (const i of left) {
    if (!open.has(i)) continue;
    const id = nextCluster++;
    const main = all[i]!.kw.keyword;
    open.delete(i);
    all[i]!.cluster = id;
    all[i]!.main = main;
    mainOf.set(id, i);
    for (const j of neighbours[i]!.keys()) {
      if (!open.has(j)) continue;
      open.delete(j);
      all[j]!.cluster = id;
      all[j]!.main = main;
    }
  }

  const assignments: Assignment[] = all.map((e) => ({ ...e.kw, volume: e.kw.volume ?? null, cluster: e.cluster, main: e.main, placed: e.placed }))
    .sort((a, b) => a.cluster - b.cluster || (a.keyword < b.keyword ? -1 : 1));
  const members = new Map<number, number[]>();
  all.forEach((e, i) => { const m = members.get(e.cluster); if (m) m.push(i); else members.set(e.cluster, [i]); });
  const clusters: Cluster[] = [...members.entries()].sort((a, b) => a[0] - b[0]).map(([id, idx]) => {
    const m = mainOf.get(id) ?? idx[0]!;
    const near = neighbours[m]!;
    const ordered = [...idx].sort((a, b) => Number(b === m) - Number(a === m) || (near.get(b) ?? 0) - (near.get(a) ?? 0) || (all[a]!.kw.keyword < all[b]!.kw.keyword ? -1 : 1));
    const urlCount = new Map<number, number>();
    for (const i of idx) for (const u of kwUrls[i]!) urlCount.set(u, (urlCount.get(u) ?? 0) + 1);
    const sharedUrls = [...urlCount.entries()].filter(([, c]) => c >= 2).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 10).map(([u]) => urlNames[u]!);
    const volumes = idx.map((i) => all[i]!.kw.volume).filter((v): v is number => typeof v === 'number');
    return {
      cluster: id, country: all[m]!.kw.country, language: all[m]!.kw.language, main: all[m]!.kw.keyword,
      keywords: ordered.map((i) => all[i]!.kw.keyword), sharedUrls, volume: volumes.length ? volumes.reduce((a, b) => a + b, 0) : null,
    };
  });
  return { assignments, clusters };
}
