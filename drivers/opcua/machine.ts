/**
 * The OPC UA link's states and the only transitions allowed between them (pure; the driver
 * performs each state's action and feeds the outcome back as an event).
 *
 *   idle ──connect──▶ connecting ──connected──▶ ready ◀──────────────────────────────┐
 *                          └──failed──▶ idle        │                                  │
 *                                                    ├─lost (no subscription)─▶ broken  │
 *                                                    └─lost (subscribed)─▶ reconnecting │
 *   reconnecting ──channel_open──▶ reactivating ──reactivated──▶ republishing           │
 *        ▲                              └─session_gone─▶ new_session ─session_created─▶ transferring
 *        │                                                                                │
 *        │    transferring ──transferred──▶ republishing ──republished──▶ repairing_items │
 *        │         └─transfer_failed─▶ recreating ──recreated──▶ repairing_items          │
 *        │    republishing ──subscription_gone──▶ transferring                            │
 *        │    repairing_items ──items_checked──▶ resyncing ──resynced────────────────────┘
 *        └── channel_failed / session_failed from any recovery state (after a backoff)
 *
 *   close (any state) ──▶ idle
 *
 * `broken` is the poll-only case: nothing to recover but the connection, which the scheduler's
 * own reconnect loop does (read() rejects, close(), connect()). With a subscription the driver
 * recovers by itself, because a push-only device never calls read() and the scheduler would not
 * notice; on the way it keeps what the server still holds: the session, the subscription and
 * the notifications not yet acknowledged.
 */
export type LinkState =
  | 'idle' | 'connecting' | 'ready' | 'broken'
  | 'reconnecting' | 'reactivating' | 'new_session' | 'transferring' | 'recreating'
  | 'republishing' | 'repairing_items' | 'resyncing';

export type LinkEvent =
  | 'connect' | 'connected' | 'failed' | 'lost' | 'lost_subscribed' | 'close'
  | 'channel_open' | 'channel_failed' | 'reactivated' | 'session_gone' | 'session_created' | 'session_failed'
  | 'transferred' | 'transfer_failed' | 'recreated' | 'republished' | 'subscription_gone'
  | 'items_checked' | 'resynced';

/** States in which the driver is repairing the link by itself. */
export const RECOVERING: ReadonlySet<LinkState> = new Set([
  'reconnecting', 'reactivating', 'new_session', 'transferring', 'recreating', 'republishing', 'repairing_items', 'resyncing',
]);

const BACK_TO_RECONNECT = { channel_failed: 'reconnecting', session_failed: 'reconnecting' } as const;

const TABLE: Record<LinkState, Partial<Record<LinkEvent, LinkState>>> = {
  idle: { connect: 'connecting' },
  connecting: { connected: 'ready', failed: 'idle' },
  ready: { lost: 'broken', lost_subscribed: 'reconnecting' },
  broken: {},
  reconnecting: { channel_open: 'reactivating', ...BACK_TO_RECONNECT },
  reactivating: { reactivated: 'republishing', session_gone: 'new_session', ...BACK_TO_RECONNECT },
  new_session: { session_created: 'transferring', ...BACK_TO_RECONNECT },
  transferring: { transferred: 'republishing', transfer_failed: 'recreating', ...BACK_TO_RECONNECT },
  recreating: { recreated: 'repairing_items', ...BACK_TO_RECONNECT },
  republishing: { republished: 'repairing_items', subscription_gone: 'transferring', ...BACK_TO_RECONNECT },
  repairing_items: { items_checked: 'resyncing', ...BACK_TO_RECONNECT },
  resyncing: { resynced: 'ready', ...BACK_TO_RECONNECT },
};

export class IllegalTransition extends Error {}

/** The state after `event`; throws on an event the state does not accept (a bug, never a device fault). */
export function transition(state: LinkState, event: LinkEvent): LinkState {
  if (event === 'close') return 'idle';
  const next = TABLE[state][event];
  if (!next) throw new IllegalTransition(`opcua link: event ${event} is not valid in state ${state}`);
  return next;
}
