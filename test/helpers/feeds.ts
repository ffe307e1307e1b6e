/** Feeds of a data source into Person, as the sync tests write them. */

export const FEED_HEADER = 'source_id,name,first_name,email,org_id->name\n';

/** Records `ids` (source_id i, email pi@x, organization Demo), named by `name`. */
export function feed(ids: Iterable<number>, name = (i: number) => `N${i}`): string {
  let s = FEED_HEADER;
  for (const i of ids) s += `${i},${name(i)},F${i},p${i}@x,Demo\n`;
  return s;
}

/** The whole numbers from `from` to `to`, both included. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, k) => from + k);
