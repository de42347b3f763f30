// The client the hooks use: given once with <SdWorkerProvider client={...}>, or per hook call.
import { createContext, useContext, type ReactNode } from 'react';
import type { SdWorkerClient } from 'sd-worker-sdk';

const ClientContext = createContext<SdWorkerClient | null>(null);

export function SdWorkerProvider({ client, children }: { client: SdWorkerClient; children?: ReactNode }) {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

// The client of the nearest provider, or `override`; throws when there is neither.
export function useSdWorkerClient(override?: SdWorkerClient): SdWorkerClient {
  const fromContext = useContext(ClientContext);
  const client = override ?? fromContext;
  if (!client) throw new Error('sd-worker-react: no client; wrap the tree in <SdWorkerProvider client={...}>');
  return client;
}
