// The transport's public surface: framing, codec, validation and TCP connections with a handshake.

export { dialableAddress, formatAddress, parseAddress } from './address.js';
export {
  type AccessPolicy,
  ClusterSecret,
  Credentials,
  makeToken,
  ownsClientId,
  type Principal,
  parseClusterSecret,
  parseCredentials,
  readSecretText,
  secretsEqual,
  TOKEN_NAME_PATTERN,
  tokenDigestText,
  tokenName,
} from './auth.js';
export { decodeMessage, encodeMessage } from './codec.js';
export {
  type CloseHandler,
  type ConnectionOptions,
  MessageConnection,
  type MessageHandler,
  SEND_BUFFER_MAX_BYTES_DEFAULT,
} from './connection.js';
export {
  CONNECTIONS_MAX_DEFAULT,
  CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
  ConnectionGate,
  type ConnectionLimits,
  connectionLimitsDefault,
} from './connection-gate.js';
export {
  countRefusal,
  countRequestRefusal,
  type RefusalReason,
  type RequestRefusalReason,
  refusalReasons,
  requestRefusalReasons,
  type TransportCounters,
  transportCounters,
} from './counters.js';
export { type DialOptions, dial, dialFirst, parseAddressList } from './dial.js';
export { FRAME_HEADER_BYTES, FRAME_SIZE_MAX_BYTES_DEFAULT, FrameReader, frame } from './framing.js';
export {
  CLIENT_IDLE_TIMEOUT_MS,
  HANDSHAKE_TIMEOUT_MS,
  type HelloHeader,
  PROTOCOL_VERSION,
} from './handshake.js';
export { type ByteStream, type LocalLink, LocalStream } from './local-link.js';
export { type Listener, type ListenOptions, listen, listenSecurity, type Refusal } from './server.js';
export {
  certificateUris,
  IDENTITY_URI_PREFIX,
  identityUri,
  type MemberIdentity,
  ReloadableTls,
  type SecureServer,
  serveWith,
  type TlsMaterial,
  tlsIdentityRefusal,
} from './tls.js';
export {
  ADDRESS_BYTES_MAX,
  ID_BYTES_MAX,
  isSaveMessage,
  isTransferMessage,
  parseClientReply,
  parseClientRequest,
  parseCoordinatorRequest,
  parseCoordinatorToReplica,
  parseForgetReply,
  parseHeartbeat,
  parseHello,
  parseHelloHeader,
  parsePeerMessage,
  parseSaveClientMessage,
  parseSaveReply,
  parseStatusReply,
  parseStatusRequest,
  parseSwitchoverReply,
  parseTransferMessage,
  parseWelcome,
  TEXT_BYTES_MAX,
} from './validate.js';
