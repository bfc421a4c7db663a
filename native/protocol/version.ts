/**
 * Wire protocol constants. Bump PROTOCOL_VERSION on any incompatible change to a message or frame
 * (2: ring messages name their piece's offset).
 */
export const PROTOCOL_VERSION = 2;

/** Control requests an agent answers (coordinator DEALER → agent ROUTER). */
export enum ControlType {
  Hello = 'hello',
  Join = 'join',
  Ping = 'ping',
  Inventory = 'inventory',
  Benchmark = 'benchmark',
  /** Start a stage-host process for one pipeline stage of a run. */
  StageSpawn = 'stage.spawn',
  /** Stop every stage-host process of a run. */
  StageStop = 'stage.stop',
  /** Whether a stage's process still runs, or how it ended (exit code or signal). */
  StageStatus = 'stage.status',
  /** Start a run driven by this agent: it outlives whoever asked (the app, `pipefitter train`). */
  RunStart = 'run.start',
  /** The runs this agent drives or has driven, as summaries. */
  RunList = 'run.list',
  /** A run's records from a sequence number on, waiting a moment for new ones (attach, follow). */
  RunRecords = 'run.records',
  /** Stop a run this agent drives. */
  RunStop = 'run.stop',
  /** A chunk of a finished run's trained model file (model.json, weights.bin). */
  RunFile = 'run.file',
  /**
   * Keep a standby copy of a run another agent drives (its records and checkpoint copies), so the
   * run can go on from here when the driver's machine is lost.
   */
  RunStandby = 'run.standby',
  /** A chunk of one stage's file of a checkpoint the driver has copied (for its standby). */
  RunCheckpoint = 'run.checkpoint',
  /** Drive, from here, a run whose driver is lost: from the newest checkpoint this agent copied. */
  RunResume = 'run.resume',
  /** Move a run this agent drives onto the layout planned over the machines online now. */
  RunReplan = 'run.replan',
  /** A bounded payload, answered with its size only: what another agent times to measure the link. */
  LinkEcho = 'link.echo',
  /** Measure the link from this agent to another (latency and rate over their control sockets). */
  LinkMeasure = 'link.measure',
}

/** Telemetry topics an agent publishes (agent PUB → coordinator SUB). */
export enum TelemetryTopic {
  Sample = 'telemetry.sample',
  /** Backends or speed changed: subscribers re-read the inventory. */
  InventoryChanged = 'inventory.changed',
  /** The agent is shutting down cleanly: mark it offline now rather than after the liveness timeout. */
  Bye = 'agent.bye',
}

/** Error codes in control replies; stable strings so clients can branch on them. */
export enum ErrorCode {
  Malformed = 'malformed',
  UnsupportedVersion = 'unsupported-version',
  UnknownType = 'unknown-type',
  InvalidPayload = 'invalid-payload',
  Unauthorized = 'unauthorized',
  Internal = 'internal',
  Busy = 'busy',
}

/** Capabilities an agent advertises in `hello`. */
export enum Capability {
  Inventory = 'inventory',
  Telemetry = 'telemetry',
  Benchmark = 'benchmark',
  /** Hosts pipeline stages (stage.spawn / stage.stop). */
  StageHost = 'stage-host',
  /** Drives runs for the lab (run.start, run.list, run.records, run.stop, run.file). */
  RunHost = 'run-host',
}
