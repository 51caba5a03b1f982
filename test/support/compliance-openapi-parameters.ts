import type { TestService } from './service.ts';

export interface Parameter {
  name: string;
  in: string;
  description?: string;
  schema: Record<string, unknown>;
}

/** Reads the service's OpenAPI document once; the result finds a query parameter of GET /v1/compliance/{query} by name, or throws naming it. */
export async function complianceParametersOf(svc: TestService): Promise<(name: string) => Parameter> {
  const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, { get: { parameters: Parameter[] } }> };
  return (name) => {
    const found = doc.paths['/v1/compliance/{query}']!.get.parameters.find((p) => p.in === 'query' && p.name === name);
    if (found === undefined) throw new Error(`GET /v1/compliance/{query} documents no parameter ${name}`);
    return found;
  };
}
