/** Content negotiation on the `as` / `g` / `v` parameters of an Accept header, as the API server reads them. */

/**
 * The version of `as=KIND;g=GROUP` the client accepts first among `versions`
 * (`application/json;as=Table;v=v1;g=meta.k8s.io` → "v1"), or null when it asks for none.
 */
export function acceptsAs<V extends string>(accept: string | undefined, as: string, group: string, versions: readonly V[]): V | null {
  for (const part of String(accept ?? '').split(',')) {
    const params = new Map(part.split(';').slice(1).map((p) => p.trim().split('=') as [string, string]));
    const v = params.get('v') as V | undefined;
    if (params.get('as') === as && params.get('g') === group && v && versions.includes(v)) return v;
  }
  return null;
}
