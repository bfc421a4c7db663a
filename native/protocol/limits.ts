/** Size limits, set as ZeroMQ `maxMessageSize` on every socket and checked again on parse. */
export const MAX_CONTROL_MESSAGE_BYTES = 1024 * 1024;
export const MAX_TELEMETRY_MESSAGE_BYTES = 256 * 1024;
export const MAX_BEACON_BYTES = 512;
/** Frames per control message: [routing id] + one JSON frame; more is malformed. */
export const MAX_CONTROL_FRAMES = 2;
