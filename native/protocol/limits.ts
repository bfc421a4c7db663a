/** Size limits, set as ZeroMQ `maxMessageSize` on every socket and checked again on parse. */
export const MAX_CONTROL_MESSAGE_BYTES = 1024 * 1024;
export const MAX_TELEMETRY_MESSAGE_BYTES = 256 * 1024;
export const MAX_BEACON_BYTES = 512;
/** Frames per control message: [routing id] + one JSON frame; more is malformed. */
export const MAX_CONTROL_FRAMES = 2;
/**
 * A link.echo payload's characters at most: large enough that its transfer time shows a link's rate
 * beyond the per-message cost, small enough to fit a control message with room to spare.
 */
export const MAX_LINK_ECHO_CHARS = 512 * 1024;
