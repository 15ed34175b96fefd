/**
 * Box errors: one class carrying Tarantool's numeric code, its symbolic name and Tarantool's
 * message text (2.x wording, which 1.10 connectors display unchanged). The iproto server turns a
 * BoxError into an error reply `0x8000 | code` with the message; callers branch on `code`,
 * never on the text.
 */

export const ErrorCode = {
  ER_UNKNOWN: 0,
  ER_ILLEGAL_PARAMS: 1,
  ER_MEMORY_ISSUE: 2,
  ER_TUPLE_FOUND: 3,
  ER_TUPLE_NOT_FOUND: 4,
  ER_UNSUPPORTED: 5,
  ER_READONLY: 7,
  ER_CREATE_SPACE: 9,
  ER_SPACE_EXISTS: 10,
  ER_DROP_SPACE: 11,
  ER_ALTER_SPACE: 12,
  ER_INDEX_TYPE: 13,
  ER_MODIFY_INDEX: 14,
  ER_LAST_DROP: 15,
  ER_DROP_PRIMARY_KEY: 17,
  ER_KEY_PART_TYPE: 18,
  ER_EXACT_MATCH: 19,
  ER_INVALID_MSGPACK: 20,
  ER_TUPLE_NOT_ARRAY: 22,
  ER_FIELD_TYPE: 23,
  ER_UPDATE_SPLICE: 25,
  ER_UPDATE_ARG_TYPE: 26,
  ER_UNKNOWN_UPDATE_OP: 28,
  ER_UPDATE_FIELD: 29,
  ER_KEY_PART_COUNT: 31,
  ER_NO_SUCH_INDEX_ID: 35,
  ER_NO_SUCH_SPACE: 36,
  ER_NO_SUCH_FIELD_NO: 37,
  ER_EXACT_FIELD_COUNT: 38,
  ER_FIELD_MISSING: 39,
  ER_WAL_IO: 40,
  ER_MORE_THAN_ONE_TUPLE: 41,
  ER_NO_SUCH_USER: 45,
  ER_USER_EXISTS: 46,
  ER_MULTISTATEMENT_TRANSACTION: 54,
  ER_NO_SUCH_ENGINE: 57,
  ER_CFG: 59,
  ER_ITERATOR_TYPE: 72,
  ER_INVALID_XLOG: 74,
  ER_ACTIVE_TRANSACTION: 79,
  ER_INDEX_EXISTS: 85,
  ER_MISSING_SNAPSHOT: 93,
  ER_CANT_UPDATE_PRIMARY_KEY: 94,
  ER_UPDATE_INTEGER_OVERFLOW: 95,
  ER_WRONG_INDEX_PARTS: 107,
  ER_WRONG_INDEX_OPTIONS: 108,
  ER_WRONG_SPACE_OPTIONS: 111,
  ER_UNSUPPORTED_INDEX_FEATURE: 112,
  ER_VIEW_IS_RO: 113,
  ER_NO_TRANSACTION: 114,
  ER_LOADING: 116,
  ER_CHECKPOINT_IN_PROGRESS: 120,
  ER_CASCADE_ROLLBACK: 134,
  ER_PARTIAL_KEY: 136,
  ER_TRUNCATE_SYSTEM_SPACE: 137,
  ER_WRONG_SPACE_FORMAT: 141,
  ER_NO_SUCH_SEQUENCE: 145,
  ER_SEQUENCE_EXISTS: 146,
  ER_SEQUENCE_OVERFLOW: 147,
  ER_NO_SUCH_INDEX_NAME: 148,
  ER_SPACE_FIELD_IS_DUPLICATE: 149,
  ER_NULLABLE_PRIMARY: 152,
  ER_TRANSACTION_YIELD: 154,
  ER_NO_SUCH_FIELD_NAME: 201,
  ER_SYNC_QUORUM_TIMEOUT: 216,
} as const;

export type ErrorName = keyof typeof ErrorCode;

const NAME_BY_CODE = new Map<number, ErrorName>(
  (Object.keys(ErrorCode) as ErrorName[]).map((name) => [ErrorCode[name], name]),
);

export function errorName(code: number): string {
  return NAME_BY_CODE.get(code) ?? `ER_${code}`;
}

export class BoxError extends Error {
  override readonly name = 'BoxError';
  readonly code: number;
  readonly codeName: string;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
    this.codeName = errorName(code);
  }
}

export function isBoxError(error: unknown): error is BoxError {
  return error instanceof BoxError;
}

/** Message builders, one per error code, with Tarantool's texts. */
export const boxErrors = {
  illegalParams: (details: string) => new BoxError(ErrorCode.ER_ILLEGAL_PARAMS, `Illegal parameters, ${details}`),
  tupleFound: (index: string, space: string) =>
    new BoxError(ErrorCode.ER_TUPLE_FOUND, `Duplicate key exists in unique index '${index}' in space '${space}'`),
  unsupported: (what: string, feature: string) =>
    new BoxError(ErrorCode.ER_UNSUPPORTED, `${what} does not support ${feature}`),
  readonly: () => new BoxError(ErrorCode.ER_READONLY, "Can't modify data because this instance is in read-only mode."),
  createSpace: (space: string, details: string) =>
    new BoxError(ErrorCode.ER_CREATE_SPACE, `Failed to create space '${space}': ${details}`),
  spaceExists: (space: string) => new BoxError(ErrorCode.ER_SPACE_EXISTS, `Space '${space}' already exists`),
  dropSpace: (space: string, details: string) =>
    new BoxError(ErrorCode.ER_DROP_SPACE, `Can't drop space '${space}': ${details}`),
  alterSpace: (space: string, details: string) =>
    new BoxError(ErrorCode.ER_ALTER_SPACE, `Can't modify space '${space}': ${details}`),
  indexType: (index: string, space: string) =>
    new BoxError(ErrorCode.ER_INDEX_TYPE, `Unsupported index type supplied for index '${index}' in space '${space}'`),
  modifyIndex: (index: string, space: string, details: string) =>
    new BoxError(ErrorCode.ER_MODIFY_INDEX, `Can't create or modify index '${index}' in space '${space}': ${details}`),
  lastDrop: (space: string) =>
    new BoxError(ErrorCode.ER_LAST_DROP, `Can't drop the primary key in a system space, space '${space}'`),
  dropPrimaryKey: (space: string) =>
    new BoxError(ErrorCode.ER_DROP_PRIMARY_KEY, `Can't drop primary key in space '${space}' while secondary keys exist`),
  keyPartType: (partNo: number, expected: string) =>
    new BoxError(
      ErrorCode.ER_KEY_PART_TYPE,
      `Supplied key type of part ${partNo} does not match index part type: expected ${expected}`,
    ),
  exactMatch: (expected: number, actual: number) =>
    new BoxError(
      ErrorCode.ER_EXACT_MATCH,
      `Invalid key part count in an exact match (expected ${expected}, got ${actual})`,
    ),
  invalidMsgpack: (details: string) => new BoxError(ErrorCode.ER_INVALID_MSGPACK, `Invalid MsgPack - ${details}`),
  tupleNotArray: () => new BoxError(ErrorCode.ER_TUPLE_NOT_ARRAY, 'Tuple/Key must be MsgPack array'),
  /** 1.10/2.6 wording: the field by number only, no "got" (2.10 added both). */
  fieldType: (fieldNo: number, expected: string) =>
    new BoxError(ErrorCode.ER_FIELD_TYPE, `Tuple field ${fieldNo} type does not match one required by operation: expected ${expected}`),
  updateSplice: (field: string, details: string) =>
    new BoxError(ErrorCode.ER_UPDATE_SPLICE, `SPLICE error on field ${field}: ${details}`),
  updateArgType: (op: string, field: string, expected: string) =>
    new BoxError(
      ErrorCode.ER_UPDATE_ARG_TYPE,
      `Argument type in operation '${op}' on field ${field} does not match field type: expected ${expected}`,
    ),
  unknownUpdateOp: (argNo: number, op: string) =>
    new BoxError(ErrorCode.ER_UNKNOWN_UPDATE_OP, `Unknown UPDATE operation #${argNo}: ${op}`),
  updateField: (field: string, details: string) =>
    new BoxError(ErrorCode.ER_UPDATE_FIELD, `Field ${field} UPDATE error: ${details}`),
  keyPartCount: (max: number, actual: number) =>
    new BoxError(ErrorCode.ER_KEY_PART_COUNT, `Invalid key part count (expected [0..${max}], got ${actual})`),
  noSuchIndexId: (indexId: number, space: string) =>
    new BoxError(ErrorCode.ER_NO_SUCH_INDEX_ID, `No index #${indexId} is defined in space '${space}'`),
  noSuchIndexName: (index: string, space: string) =>
    new BoxError(ErrorCode.ER_NO_SUCH_INDEX_NAME, `No index '${index}' is defined in space '${space}'`),
  noSuchSpace: (space: string) => new BoxError(ErrorCode.ER_NO_SUCH_SPACE, `Space '${space}' does not exist`),
  noSuchFieldName: (name: string) => new BoxError(ErrorCode.ER_NO_SUCH_FIELD_NAME, `Field '${name}' was not found in the tuple`),
  /** Tarantool prints no index name here (two spaces): kept byte for byte. */
  partialKey: (indexType: string, expected: number, actual: number) =>
    new BoxError(
      ErrorCode.ER_PARTIAL_KEY,
      `${indexType} index  does not support selects via a partial key (expected ${expected} parts, got ${actual}). Please Consider changing index type to TREE.`,
    ),
  noSuchFieldNo: (fieldNo: number) =>
    new BoxError(ErrorCode.ER_NO_SUCH_FIELD_NO, `Field ${fieldNo} was not found in the tuple`),
  exactFieldCount: (actual: number, expected: number) =>
    new BoxError(
      ErrorCode.ER_EXACT_FIELD_COUNT,
      `Tuple field count ${actual} does not match space field count ${expected}`,
    ),
  fieldMissing: (fieldNo: number) =>
    new BoxError(ErrorCode.ER_FIELD_MISSING, `Tuple field ${fieldNo} required by space format is missing`),
  walIo: () => new BoxError(ErrorCode.ER_WAL_IO, 'Failed to write to disk'),
  syncQuorumTimeout: () => new BoxError(ErrorCode.ER_SYNC_QUORUM_TIMEOUT, 'Quorum collection for a synchronous transaction is timed out'),
  moreThanOneTuple: () =>
    new BoxError(ErrorCode.ER_MORE_THAN_ONE_TUPLE, "Get() doesn't support partial keys and non-unique indexes"),
  noSuchUser: (user: string) => new BoxError(ErrorCode.ER_NO_SUCH_USER, `User '${user}' is not found`),
  userExists: (user: string) => new BoxError(ErrorCode.ER_USER_EXISTS, `User '${user}' already exists`),
  multistatement: (operation: string) =>
    new BoxError(
      ErrorCode.ER_MULTISTATEMENT_TRANSACTION,
      `Can not perform ${operation} in a multi-statement transaction`,
    ),
  noSuchEngine: (engine: string) => new BoxError(ErrorCode.ER_NO_SUCH_ENGINE, `Space engine '${engine}' does not exist`),
  cfg: (option: string, details: string) =>
    new BoxError(ErrorCode.ER_CFG, `Incorrect value for option '${option}': ${details}`),
  iteratorType: (value: string) => new BoxError(ErrorCode.ER_ITERATOR_TYPE, `Unknown iterator type '${value}'`),
  invalidXlog: (details: string) => new BoxError(ErrorCode.ER_INVALID_XLOG, `Invalid xlog: ${details}`),
  activeTransaction: () =>
    new BoxError(
      ErrorCode.ER_ACTIVE_TRANSACTION,
      'Operation is not permitted when there is an active transaction ',
    ),
  indexExists: (index: string) => new BoxError(ErrorCode.ER_INDEX_EXISTS, `Index '${index}' already exists`),
  missingSnapshot: (details: string) => new BoxError(ErrorCode.ER_MISSING_SNAPSHOT, `Can't find snapshot: ${details}`),
  cantUpdatePrimaryKey: (index: string, space: string) =>
    new BoxError(ErrorCode.ER_CANT_UPDATE_PRIMARY_KEY, `Attempt to modify a tuple field which is part of index '${index}' in space '${space}'`),
  updateIntegerOverflow: (op: string, field: string) =>
    new BoxError(
      ErrorCode.ER_UPDATE_INTEGER_OVERFLOW,
      `Integer overflow when performing '${op}' operation on field ${field}`,
    ),
  wrongIndexParts: (partNo: number, details: string) =>
    new BoxError(ErrorCode.ER_WRONG_INDEX_PARTS, `Wrong index part ${partNo}: ${details}`),
  wrongIndexOptions: (details: string) =>
    new BoxError(ErrorCode.ER_WRONG_INDEX_OPTIONS, `Wrong index options: ${details}`),
  wrongSpaceOptions: (details: string) =>
    new BoxError(ErrorCode.ER_WRONG_SPACE_OPTIONS, `Wrong space options: ${details}`),
  unsupportedIndexFeature: (index: string, type: string, space: string, engine: string, feature: string) =>
    new BoxError(
      ErrorCode.ER_UNSUPPORTED_INDEX_FEATURE,
      `Index '${index}' (${type}) of space '${space}' (${engine}) does not support ${feature}`,
    ),
  viewIsRo: (space: string) => new BoxError(ErrorCode.ER_VIEW_IS_RO, `View '${space}' is read-only`),
  noTransaction: () => new BoxError(ErrorCode.ER_NO_TRANSACTION, 'No active transaction'),
  loading: () => new BoxError(ErrorCode.ER_LOADING, "Instance bootstrap hasn't finished yet"),
  checkpointInProgress: () => new BoxError(ErrorCode.ER_CHECKPOINT_IN_PROGRESS, 'Snapshot is already in progress'),
  cascadeRollback: () => new BoxError(ErrorCode.ER_CASCADE_ROLLBACK, 'WAL has a rollback in progress'),
  truncateSystemSpace: (space: string) =>
    new BoxError(ErrorCode.ER_TRUNCATE_SYSTEM_SPACE, `Can't truncate a system space, space '${space}'`),
  wrongSpaceFormat: (fieldNo: number, details: string) =>
    new BoxError(ErrorCode.ER_WRONG_SPACE_FORMAT, `Wrong space format field ${fieldNo}: ${details}`),
  noSuchSequence: (name: string) => new BoxError(ErrorCode.ER_NO_SUCH_SEQUENCE, `Sequence '${name}' does not exist`),
  sequenceExists: (name: string) => new BoxError(ErrorCode.ER_SEQUENCE_EXISTS, `Sequence '${name}' already exists`),
  sequenceOverflow: (name: string) =>
    new BoxError(ErrorCode.ER_SEQUENCE_OVERFLOW, `Sequence '${name}' has overflowed`),
  spaceFieldIsDuplicate: (field: string) =>
    new BoxError(ErrorCode.ER_SPACE_FIELD_IS_DUPLICATE, `Space field '${field}' is duplicate`),
  nullablePrimary: (space: string) =>
    new BoxError(ErrorCode.ER_NULLABLE_PRIMARY, `Primary index of space '${space}' can not contain nullable parts`),
  transactionYield: () =>
    new BoxError(ErrorCode.ER_TRANSACTION_YIELD, 'Transaction has been aborted by a fiber yield'),
} as const;
