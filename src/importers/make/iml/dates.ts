/**
 * Make's date formats (moment.js tokens: `YYYY-MM-DD HH:mm`, `[at] h A`) written as JSONata:
 * `$fromMillis` pictures (XPath `[Y0001]-[M01]-[D01]`) where a token has a picture component,
 * and small expressions where it has none (`d`: 0 for Sunday, `X`: Unix seconds).
 */
import { Untranslatable } from './errors.ts';
import { str } from './jsonata.ts';

/** Longest first, so `YYYY` is not read as `YY` twice. */
const TOKENS = [
  'YYYYYY', 'YYYY', 'GGGG', 'gggg', 'MMMM', 'DDDD', 'dddd', 'SSSS', 'MMM', 'DDD', 'ddd', 'SSS', 'LTS',
  'YY', 'MM', 'DD', 'Do', 'dd', 'WW', 'ww', 'HH', 'hh', 'kk', 'mm', 'ss', 'SS', 'ZZ', 'LT', 'LL',
  'Y', 'Q', 'M', 'D', 'd', 'E', 'e', 'W', 'w', 'H', 'h', 'k', 'm', 's', 'S', 'A', 'a', 'Z', 'X', 'x', 'L',
];

/** Tokens with an XPath picture component (shared by formatting and parsing). */
const PICTURE: Record<string, string> = {
  YYYY: '[Y0001]', YY: '[Y,2]', Y: '[Y1]',
  MMMM: '[MNn]', MMM: '[MNn,3-3]', MM: '[M01]', M: '[M1]',
  Do: '[D1o]', DD: '[D01]', D: '[D1]', DDDD: '[d001]', DDD: '[d1]',
  dddd: '[FNn]', ddd: '[FNn,3-3]', E: '[F1]', W: '[W1]', WW: '[W01]',
  HH: '[H01]', H: '[H1]', hh: '[h01]', h: '[h1]', mm: '[m01]', m: '[m1]', ss: '[s01]', s: '[s1]',
  SSS: '[f001]', SS: '[f01]', S: '[f1]', A: '[PN]', a: '[P]', Z: '[Z01:01]', ZZ: '[Z0101]',
};

type Piece = { kind: 'literal'; text: string } | { kind: 'token'; token: string };

/** Splits a moment.js format into tokens and literal text (`[...]` is literal). */
export function tokenizeFormat(format: string): Piece[] {
  const out: Piece[] = [];
  const literal = (text: string) => {
    const last = out[out.length - 1];
    if (last?.kind === 'literal') last.text += text;
    else out.push({ kind: 'literal', text });
  };
  let i = 0;
  while (i < format.length) {
    if (format[i] === '[') {
      const end = format.indexOf(']', i + 1);
      if (end > 0) { literal(format.slice(i + 1, end)); i = end + 1; continue; }
    }
    const token = TOKENS.find((t) => format.startsWith(t, i));
    if (token) { out.push({ kind: 'token', token }); i += token.length; continue; }
    literal(format[i]!);
    i++;
  }
  return out;
}

/** A literal inside an XPath picture: brackets are doubled. */
function pictureLiteral(text: string): string {
  return text.replaceAll('[', '[[').replaceAll(']', ']]');
}

/**
 * JSONata giving the text of the date whose milliseconds are in `$ms`, in Make's `format`;
 * `tz` is a JSONata offset such as "+0100" (undefined: UTC).
 */
export function formatPieces(format: string, ms: string, tz: string | undefined): string {
  const tzArg = tz ? `, ${str(tz)}` : '';
  const parts: string[] = [];
  let picture = '';
  const flush = () => {
    if (picture) parts.push(`$fromMillis(${ms}, ${str(picture)}${tzArg})`);
    picture = '';
  };
  const component = (pic: string) => `$fromMillis(${ms}, ${str(pic)}${tzArg})`;
  for (const p of tokenizeFormat(format)) {
    if (p.kind === 'literal') { picture += pictureLiteral(p.text); continue; }
    const pic = PICTURE[p.token];
    if (pic) { picture += pic; continue; }
    flush();
    switch (p.token) {
      case 'Q': parts.push(`$string($floor(($number(${component('[M1]')}) - 1) / 3) + 1)`); break;
      case 'd': parts.push(`$string($number(${component('[F1]')}) % 7)`); break;
      case 'dd': parts.push(`$substring(${component('[FNn]')}, 0, 2)`); break;
      case 'k': case 'kk': {
        const h = `$number(${component('[H1]')})`;
        parts.push(p.token === 'k' ? `$string(${h} = 0 ? 24 : ${h})` : `$formatNumber(${h} = 0 ? 24 : ${h}, '00')`);
        break;
      }
      case 'X': parts.push(`$string($floor(${ms} / 1000))`); break;
      case 'x': parts.push(`$string(${ms})`); break;
      default:
        throw new Untranslatable(`date token "${p.token}" (in "${format}") has no translation: use explicit tokens such as YYYY-MM-DD HH:mm`);
    }
  }
  flush();
  if (parts.length === 0) return str('');
  return parts.length === 1 ? parts[0]! : parts.join(' & ');
}

/** The XPath picture that parses text written in Make's `format`, or an Untranslatable. */
export function parsePicture(format: string): string {
  let picture = '';
  for (const p of tokenizeFormat(format)) {
    if (p.kind === 'literal') { picture += pictureLiteral(p.text); continue; }
    const pic = PICTURE[p.token];
    if (!pic || ['Do', 'E', 'W', 'WW', 'dddd', 'ddd', 'DDD', 'DDDD'].includes(p.token)) {
      throw new Untranslatable(`parseDate token "${p.token}" (in "${format}") has no translation`);
    }
    picture += pic;
  }
  return picture;
}

/**
 * A Make time zone argument as a JSONata offset: undefined for UTC, "+0200" for "+02:00". Named
 * zones (Europe/Berlin) change offset with daylight saving time, which JSONata cannot know.
 */
export function timezoneOffset(tz: string): string | undefined {
  const t = tz.trim();
  if (/^(UTC|GMT|Z|Etc\/UTC|Etc\/GMT|Universal|Zulu)$/i.test(t)) return undefined;
  const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(t);
  if (m) return `${m[1]}${m[2]!.padStart(2, '0')}${m[3] ?? '00'}`;
  throw new Untranslatable(`time zone "${tz}": topicflow expressions know fixed offsets only (write +01:00 or UTC)`);
}
