import { describe, expect, it } from 'vitest';
import { clusterKeywords, normalizeResultUrl, type ClusterKeyword, type StoredAssignment } from './clusters.ts';

/** A SERP of 10 URLs: the first `shared` URLs of `pool`, ranked from position `from` on; the others unique to the keyword. */
function serp(keyword: string, pool: string, shared: number, from = 1, extra: Partial<ClusterKeyword> = {}): ClusterKeyword {
  const urls = Array.from({ length: 10 }, (_, i) => `https://own.example/${keyword.replace(/ /g, '-')}/${i + 1}`);
  for (let k = 0; k < shared; k++) urls[from - 1 + k] = `https://${pool}.example/${k + 1}`;
  return { keyword, country: 'us', language: 'en', urls, ...extra };
}

const groups = (r: ReturnType<typeof clusterKeywords>) => r.clusters.map((c) => [...c.keywords].sort());

describe('clusterKeywords', () => {
  // Hand-built SERPs: shoes share 4-5 URLs (ranked lower than "running shoes" ranks them),
  // marathon ones 6, "trail" only 2 with shoes.
  const KEYWORDS = [
    serp('running shoes', 'shoes', 10),
    serp('best running shoes', 'shoes', 5, 3),
    serp('running shoes sale', 'shoes', 4, 4),
    serp('trail running shoes', 'shoes', 2),
    serp('marathon training plan', 'marathon', 10),
    serp('half marathon training', 'marathon', 6),
    serp('yoga mat', 'yoga', 10),
  ];

  it('puts keywords whose top 10 share at least 3 URLs with the main keyword in one cluster', () => {
    const r = clusterKeywords(KEYWORDS, []);
    expect(groups(r).sort()).toEqual([
      ['best running shoes', 'running shoes', 'running shoes sale'],
      ['half marathon training', 'marathon training plan'],
      ['trail running shoes'],
      ['yoga mat'],
    ].sort());
    // The main keyword is the one whose ranking URLs carry the most weight across the group.
    expect(r.clusters.find((c) => c.keywords.includes('running shoes'))!.main).toBe('running shoes');
    expect(r.clusters.map((c) => c.cluster)).toEqual([1, 2, 3, 4]);
    expect(r.assignments.every((a) => a.placed)).toBe(true);
  });

  it('honours minShared: at 5, the keyword sharing 4 URLs stands alone', () => {
    const r = clusterKeywords(KEYWORDS, [], { minShared: 5 });
    expect(groups(r)).toContainEqual(['running shoes sale']);
    expect(groups(r)).toContainEqual(['best running shoes', 'running shoes']);
  });

  it('is deterministic: the same clusters and numbers whatever the input order', () => {
    const a = clusterKeywords(KEYWORDS, []);
    const b = clusterKeywords([...KEYWORDS].reverse(), []);
    expect(b).toEqual(a);
  });

  it('compares URLs without scheme, www., fragment or trailing slash, and never across countries', () => {
    expect(normalizeResultUrl('https://www.Example.com/a/#top')).toBe('example.com/a');
    expect(normalizeResultUrl('http://example.com/a?x=1')).toBe('example.com/a?x=1');
    const de = { ...serp('laufschuhe', 'shoes', 10), country: 'de', language: 'de' };
    const variants = serp('running shoes 2', 'shoes', 0);
    variants.urls = KEYWORDS[0]!.urls.map((u) => `${u.replace('https://', 'http://www.')}/`);
    const r = clusterKeywords([KEYWORDS[0]!, variants, de], []);
    expect(groups(r).sort()).toEqual([['laufschuhe'], ['running shoes', 'running shoes 2']]);
  });

  it('uses search volume, when known, to choose the main keyword', () => {
    const withVolume = KEYWORDS.map((k) => (k.keyword === 'best running shoes' ? { ...k, volume: 90_000 } : { ...k, volume: 1000 }));
    const c = clusterKeywords(withVolume, []).clusters.find((x) => x.keywords.includes('running shoes'))!;
    expect(c.main).toBe('best running shoes');
    expect(c.keywords[0]).toBe('best running shoes');
    expect(c.volume).toBe(92_000);
  });

  it('is incremental: a new keyword joins its stored cluster; no stored keyword is renumbered; the rest get new numbers', () => {
    const first = clusterKeywords(KEYWORDS, []);
    const stored: StoredAssignment[] = first.assignments.map(({ placed: _, ...a }) => a);
    // Renumber the stored clusters as an older run might have (numbers are whatever was stored).
    const renumber = new Map([[1, 7], [2, 3], [3, 12], [4, 5]]);
    for (const s of stored) s.cluster = renumber.get(s.cluster)!;
    const next = clusterKeywords([serp('running shoes for women', 'shoes', 3), serp('yoga block', 'yoga', 4), serp('pilates ring', 'pilates', 10), serp('pilates ring exercises', 'pilates', 7)], stored);
    const byKeyword = new Map(next.assignments.map((a) => [a.keyword, a]));
    for (const s of stored) expect(byKeyword.get(s.keyword)!.cluster).toBe(s.cluster);
    expect(byKeyword.get('running shoes for women')!.cluster).toBe(byKeyword.get('running shoes')!.cluster);
    expect(byKeyword.get('yoga block')!.cluster).toBe(byKeyword.get('yoga mat')!.cluster);
    // A new group takes the next number after the highest stored one.
    expect(byKeyword.get('pilates ring')!.cluster).toBe(13);
    expect(byKeyword.get('pilates ring exercises')!.cluster).toBe(13);
    expect(next.assignments.filter((a) => a.placed).map((a) => a.keyword).sort()).toEqual(['pilates ring', 'pilates ring exercises', 'running shoes for women', 'yoga block']);
    // The main keyword of a stored cluster stays.
    expect(next.clusters.find((c) => c.cluster === byKeyword.get('running shoes')!.cluster)!.main).toBe('running shoes');
  });

  it('keeps the cluster of a stored keyword researched again, with its new URLs', () => {
    const first = clusterKeywords(KEYWORDS, []);
    const stored = first.assignments.map(({ placed: _, ...a }) => a);
    const again = clusterKeywords([serp('running shoes sale', 'other', 10)], stored);
    const a = again.assignments.find((x) => x.keyword === 'running shoes sale')!;
    expect(a.cluster).toBe(first.assignments.find((x) => x.keyword === 'running shoes sale')!.cluster);
    expect(a.placed).toBe(false);
    expect(a.urls[0]).toBe('https://other.example/1');
  });

  it('lists the URLs a cluster shares, most shared first', () => {
    const c = clusterKeywords(KEYWORDS, []).clusters.find((x) => x.main === 'running shoes')!;
    expect(c.sharedUrls.slice(0, 4)).toEqual(['https://shoes.example/1', 'https://shoes.example/2', 'https://shoes.example/3', 'https://shoes.example/4']);
    expect(c.sharedUrls).toContain('https://shoes.example/5');
    expect(c.sharedUrls).not.toContain('https://shoes.example/6');
  });
});
