package moice.api;

/**
 * Per-session switches that change what a {@link Session} keeps, not what it computes. Immutable.
 *
 * @param recordRouting keep the routing decisions of MoICE-family methods (moice, equal, random) so that
 *                      {@link Session#routing()} can report them; costs memory per position (K experts, K weights and
 *                      N router logits per layer, position and head); ignored by the other methods
 */
public record SessionOptions(boolean recordRouting) {
    /** Nothing recorded: what {@link Engine#session(moice.method.Method)} opens. */
    public static final SessionOptions DEFAULT = new SessionOptions(false);

    /** Routing decisions recorded. */
    public static SessionOptions recordingRouting() {
        return new SessionOptions(true);
    }
}
