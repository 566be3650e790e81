/**
 * {@code bin/moice serve}: an OpenAI-compatible HTTP server (chat completions, completions, server-sent events) on
 * one loaded model, with the MoICE attention method chosen per request. Uses {@code moice.api} and the layers below
 * it; {@code moice.cli} starts it.
 */
package moice.server;
