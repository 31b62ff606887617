/**
 * The planted bugs `npm run test:mutants` runs, in the order it runs and reports them. Each
 * module in ./mutants/ breaks one promise with exact-text edits of src/ or drivers/ and names
 * the tests that must catch it.
 *
 * Adding one is a module in ./mutants/ and a line below.
 *
 * @typedef {object} Edit  One exact-text replacement in the throw-away copy.
 * @property {string} file     relative to the checkout
 * @property {string} find     must occur exactly once: a refactor that moves it fails the run
 *                             loudly instead of letting the mutant "survive" unapplied
 * @property {string} replace
 *
 * @typedef {object} Catcher  A test file, optionally narrowed to the tests whose full name
 *                            (describe titles and test title) contains `test`.
 * @property {string} file
 * @property {string} [test]
 * @property {boolean} [dist]  the tests spawn the compiled CLI: the copy is built first
 *
 * @typedef {object} Mutant
 * @property {string} name
 * @property {string} breaks   the guarantee it breaks, in a line
 * @property {Edit[]} edits
 * @property {Catcher[]} catchers  fastest first; every one runs, so the report says which catch it
 */
import ackDeletesWrongMessage from './mutants/ack-deletes-wrong-message.mjs';
import badTransitionNotPublished from './mutants/bad-transition-not-published.mjs';
import clockCorrectionSkipped from './mutants/clock-correction-skipped.mjs';
import clockCorrectsEarlierBoot from './mutants/clock-corrects-earlier-boot.mjs';
import clockFlagNotPublished from './mutants/clock-flag-not-published.mjs';
import clockFlagOutsideSizeBudget from './mutants/clock-flag-outside-size-budget.mjs';
import clockStepBackUnflagged from './mutants/clock-step-back-unflagged.mjs';
import committedMarkOnlyAtStop from './mutants/committed-mark-only-at-stop.mjs';
import countPhantomDrop from './mutants/count-phantom-drop.mjs';
import deleteBeforePuback from './mutants/delete-before-puback.mjs';
import discardCommittedAtRestart from './mutants/discard-committed-at-restart.mjs';
import diskCapOnePageOver from './mutants/disk-cap-one-page-over.mjs';
import dropWithoutCounting from './mutants/drop-without-counting.mjs';
import inOrderBacklogOutOfOrder from './mutants/in-order-backlog-out-of-order.mjs';
import modbusAddressOneBased from './mutants/modbus-address-one-based.mjs';
import modbusStaleReplyAccepted from './mutants/modbus-stale-reply-accepted.mjs';
import modbusWordOrderIgnored from './mutants/modbus-word-order-ignored.mjs';
import noBrokerProbe from './mutants/no-broker-probe.mjs';
import opcuaSeverityMisread from './mutants/opcua-severity-misread.mjs';
import publishBeforeCommit from './mutants/publish-before-commit.mjs';
import redeliveredSeqChangesPayload from './mutants/redelivered-seq-changes-payload.mjs';
import retainedWriteCommand from './mutants/retained-write-command.mjs';
import reuseSeqsAfterRestart from './mutants/reuse-seqs-after-restart.mjs';
import rtuCrcNotChecked from './mutants/rtu-crc-not-checked.mjs';
import secondDaemonSharesDataDir from './mutants/second-daemon-shares-data-dir.mjs';
import seqRestartedAfterCorruptFile from './mutants/seq-restarted-after-corrupt-file.mjs';
import serialLineTornAtChunk from './mutants/serial-line-torn-at-chunk.mjs';
import sparkplugSeqPast255 from './mutants/sparkplug-seq-past-255.mjs';
import syncFullWithoutFsync from './mutants/sync-full-without-fsync.mjs';

/** @type {Mutant[]} */
export const MUTANTS = [
  publishBeforeCommit,
  discardCommittedAtRestart,
  reuseSeqsAfterRestart,
  deleteBeforePuback,
  ackDeletesWrongMessage,
  syncFullWithoutFsync,
  dropWithoutCounting,
  countPhantomDrop,
  redeliveredSeqChangesPayload,
  inOrderBacklogOutOfOrder,
  seqRestartedAfterCorruptFile,
  committedMarkOnlyAtStop,
  diskCapOnePageOver,
  retainedWriteCommand,
  secondDaemonSharesDataDir,
  noBrokerProbe,
  clockFlagOutsideSizeBudget,
  clockStepBackUnflagged,
  clockCorrectsEarlierBoot,
  clockCorrectionSkipped,
  clockFlagNotPublished,
  modbusWordOrderIgnored,
  modbusAddressOneBased,
  modbusStaleReplyAccepted,
  rtuCrcNotChecked,
  badTransitionNotPublished,
  opcuaSeverityMisread,
  serialLineTornAtChunk,
  sparkplugSeqPast255,
];
