/**
 * The Java API of moice: what the command line, and any Java program, use to run the engine.
 *
 * <ul>
 * <li>{@link moice.api.Moice}: {@code load} a model (path, pulled name, or packaged name fetched on demand),
 *     {@code tokenizer} (a model's {@link moice.api.Tokenizer} alone, no weights read), {@code locate},
 *     {@code eval}, {@code mergeEvals}, {@code perplexity}, {@code trainRouters}. Stateless.</li>
 * <li>{@link moice.api.Engine}: a loaded model; opens {@link moice.api.Session}s, tokenizes, renders chats, scores
 *     token sequences ({@code logProbs}). Thread-safe; {@code AutoCloseable}.</li>
 * <li>{@link moice.api.Session}: one sequence with one attention method ({@link moice.method.Method}, or a spec
 *     string such as {@code vanilla}, {@code moice:R.safetensors}, {@code equal}, {@code ab},
 *     {@code mspoe:1.2,1.8,group}); {@code generate}, {@code chat} (optionally streaming), {@code forward}. Not
 *     thread-safe; many sessions may run concurrently on one engine.</li>
 * <li>Values: {@link moice.api.GenerateOptions}, {@link moice.api.Completion}, {@link moice.api.ChatMessage},
 *     {@link moice.api.Logits}, {@link moice.api.RoutingCounts}, {@link moice.api.EvalOptions}, {@link moice.api.PerplexityOptions}, {@link moice.api.TrainOptions}:
 *     immutable records.</li>
 * </ul>
 *
 * The JVM needs {@code --add-modules jdk.incubator.vector} (the SIMD kernels). Errors in the input (a missing file, a
 * bad spec) are {@link moice.MoiceException}s whose message names the file or option; wrong arguments to the value
 * records are {@link IllegalArgumentException}s.
 */
package moice.api;
