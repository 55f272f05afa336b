// `trellis/channels`: what an author of a channel (a wire protocol carrying requests to a Site) uses.
// Resource authors import from 'trellis'; nothing here is needed to write or serve a resource.
export { serveParts, standIn, connectionLost } from './boundary.js';
export type { Refusal, RequestHolder, StandInOptions } from './boundary.js';
export { Request } from '../request.js';
export type { Address, RequestInit, RequestParts, ResponseSink, UpgradeSocket } from '../request.js';
export { RequestHeaders } from '../http/headers.js';
export { bindServer, capConnectionsPerIp, ListenError } from './listen.js';
export type { BindOptions, ChannelServer, Listener } from './listen.js';
