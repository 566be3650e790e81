package moice.api;

import moice.MoiceException;
import moice.cli.CliTest;
import moice.cli.Main;
import moice.cli.TinyChatModel;
import moice.io.SafeTensors;
import moice.method.Method;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java API against the command line on a tiny model: generation and chat give what {@code bin/moice generate}
 * prints, forward gives {@code bin/moice forward}'s logits bit for bit, logProbs is the log-softmax of forward, streamed
 * pieces make the text, and sessions run concurrently on one engine with the results they give alone.
 */
class ApiTest {
    @TempDir
    static Path tmp;
    static Path model;
    static Path routers;
    /** Methods of every kind; the model has 4 layers, so Ms-PoE changes layers 2 and 3. */
    static List<String> methods;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"), 4);
        routers = tmp.resolve("r.safetensors");
        CliTest.Run init = cli("routers", "init", "--model", model.toString(), "--base-ratios", "1,1.5,2,3", "--top-k", "2",
                "--seed", "4", "--std", "0.5", "--out", routers.toString());
        assertEquals(0, init.code(), init.err());
        methods = List.of("vanilla", "moice:" + routers, "equal", "random:3", "ab", "mspoe:1.2,1.8,group");
    }

    static CliTest.Run cli(String... args) {
        return CliTest.run(args);
    }

    static String cliGenerate(String method, String... more) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--method", method));
        args.addAll(List.of(more));
        CliTest.Run r = cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return r.out();
    }

    @Test
    void generateIsWhatTheCommandLinePrints() {
        try (Engine engine = Moice.load(model.toString())) {
            for (String m : methods) {
                Completion c = engine.session(m).generate("Hello there, how", GenerateOptions.greedy(12));
                assertEquals(cliGenerate(m, "--prompt", "Hello there, how", "--max-tokens", "12"), c.text() + "\n", m);
                assertEquals(engine.tokenize("Hello there, how").length, c.promptTokens());
                assertTrue(c.generatedTokens() <= 12 && c.generatedTokens() == c.tokens().length);
                assertTrue(List.of("length", "eos", "stop", "context").contains(c.stopReason()), c.stopReason());
            }
            // and what the engine's generator gives on its own, token for token
            for (String m : List.of("vanilla", "moice:" + routers, "ab")) {
                int[] ids = engine.tokenize("Hello there, how");
                var decoder = engine.model().tokenizer().newStreamDecoder(true);
                moice.model.Generator.Result direct = moice.model.Generator.generate(engine.config(),
                        moice.method.Methods.sessions(engine.method(m), engine.model().model()), ids,
                        new moice.model.Sampler(0f, 0, 1f, 0), new moice.model.Generator.Settings(12,
                                engine.model().stopTokenIds(), List.of(), 0),
                        new moice.model.Generator.TextStream() {
                            @Override
                            public String push(int id) { return decoder.push(id); }

                            @Override
                            public String finish() { return decoder.finish(); }
                        }, s -> { });
                Completion c = engine.session(m).generate(ids, GenerateOptions.greedy(12), null);
                assertArrayEquals(direct.tokens(), c.tokens(), m);
                assertEquals(direct.text(), c.text(), m);
            }
            // sampling: the same seed gives the command line's text
            GenerateOptions sampled = GenerateOptions.greedy(16).withTemperature(0.9f).withTopK(50).withTopP(0.95f)
                    .withSeed(11);
            assertEquals(cliGenerate("vanilla", "--prompt", "Once upon", "--max-tokens", "16", "--temperature", "0.9",
                            "--top-k", "50", "--top-p", "0.95", "--seed", "11"),
                    engine.session("vanilla").generate("Once upon", sampled).text() + "\n");
        }
    }

    @Test
    void chatIsWhatTheCommandLinePrints() {
        try (Engine engine = Moice.load(model.toString())) {
            List<ChatMessage> conversation = List.of(ChatMessage.system("Be brief."), ChatMessage.user("What is RoPE?"));
            for (String m : List.of("vanilla", "moice:" + routers, "ab")) {
                String expected = cliGenerate(m, "--chat", "--system", "Be brief.", "--prompt", "What is RoPE?",
                        "--max-tokens", "10");
                assertEquals(expected, engine.session(m).chat(conversation, GenerateOptions.greedy(10)).text() + "\n", m);
            }
            // the engine's chat runs the default method: vanilla for a model without built-in routers
            assertInstanceOf(Method.Vanilla.class, engine.defaultMethod());
            assertEquals(cliGenerate("vanilla", "--chat", "--prompt", "Hi", "--max-tokens", "8"),
                    engine.chat(List.of(ChatMessage.user("Hi")), GenerateOptions.greedy(8)).text() + "\n");
        }
    }

    @Test
    void forwardGivesTheCommandLinesLogitsBitForBit() throws IOException {
        int[] ids = {1, 5, 9, 200, 77, 1400, 3, 42, 9, 9, 500};
        Path tokens = tmp.resolve("ids.json");
        Files.writeString(tokens, Arrays.toString(ids));
        try (Engine engine = Moice.load(model.toString())) {
            for (String m : methods) {
                Path out = tmp.resolve("logits-" + methods.indexOf(m) + ".safetensors");
                CliTest.Run r = cli("forward", "--model", model.toString(), "--tokens", tokens.toString(), "--out",
                        out.toString(), "--method", m);
                assertEquals(0, r.code(), r.err());
                float[] expected;
                try (SafeTensors st = SafeTensors.open(out)) {
                    expected = st.matrix("logits", ids.length, engine.config().vocabSize()).toFloats();
                }
                Session session = engine.session(m);
                Logits logits = session.forward(ids);
                assertEquals(ids.length, logits.tokens());
                assertEquals(engine.config().vocabSize(), logits.vocab());
                assertArrayEquals(expected, logits.values(), m); // exact: assertArrayEquals on floats compares bits
                assertEquals(ids.length, session.size());
                assertEquals(expected[3 * logits.vocab() + 7], logits.get(3, 7));
                session.reset();
                assertEquals(0, session.size());
                assertArrayEquals(expected, session.forward(ids).values(), m + " after reset");
            }
        }
    }

    @Test
    void forwardAppendsToTheSequence() {
        int[] ids = {1, 5, 9, 200, 77, 1400, 3, 42};
        try (Engine engine = Moice.load(model.toString())) {
            for (String m : List.of("vanilla", "moice:" + routers)) {
                Logits whole = engine.session(m).forward(ids);
                Session s = engine.session(m);
                Logits first = s.forward(Arrays.copyOf(ids, 5));
                Logits rest = s.forward(Arrays.copyOfRange(ids, 5, ids.length));
                assertEquals(ids.length, s.size());
                int v = whole.vocab();
                // two blocks instead of one: another float32 evaluation (moice.Bounds)
                double bound = moice.Bounds.forwardPass(engine.config(), ids.length);
                for (int t = 0; t < ids.length; t++) {
                    float[] row = t < 5 ? first.row(t) : rest.row(t - 5);
                    float[] ref = whole.row(t);
                    double scale = 0;
                    for (float x : ref) scale = Math.max(scale, Math.abs(x));
                    for (int i = 0; i < v; i++)
                        assertEquals(ref[i], row[i], bound * scale, m + " position " + t);
                }
            }
        }
    }

    @Test
    void logProbsAreTheLogSoftmaxOfForward() {
        int[] ids = {1, 5, 9, 200, 77, 1400, 3, 42, 9};
        try (Engine engine = Moice.load(model.toString())) {
            for (String m : List.of("vanilla", "equal", "ab")) {
                Logits logits = engine.session(m).forward(ids);
                double[] lp = engine.logProbs(ids, m);
                assertEquals(ids.length - 1, lp.length);
                for (int t = 0; t + 1 < ids.length; t++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int v = 0; v < logits.vocab(); v++) max = Math.max(max, logits.get(t, v));
                    for (int v = 0; v < logits.vocab(); v++) sum += Math.exp(logits.get(t, v) - max);
                    double expected = logits.get(t, ids[t + 1]) - max - Math.log(sum);
                    assertEquals(expected, lp[t], 1e-12 * Math.max(1, Math.abs(expected)), m + " position " + t);
                    assertTrue(lp[t] <= 0);
                }
            }
            assertEquals(0, engine.logProbs(new int[]{1}, new Method.Vanilla()).length);
        }
    }

    @Test
    void streamedPiecesMakeTheText() {
        try (Engine engine = Moice.load(model.toString())) {
            for (GenerateOptions o : List.of(GenerateOptions.greedy(20),
                    GenerateOptions.greedy(20).withTemperature(1f).withSeed(3),
                    GenerateOptions.greedy(20).withTemperature(1f).withSeed(3).withStop("e", "th"))) {
                List<String> pieces = new ArrayList<>();
                Completion c = engine.session("vanilla").generate("The weather", o, pieces::add);
                assertEquals(c.text(), String.join("", pieces));
                assertFalse(c.text().contains("th") && o.stop().contains("th"), c.text());
                assertEquals(engine.session("vanilla").generate("The weather", o).text(), c.text());
            }
            List<String> pieces = new ArrayList<>();
            Completion chat = engine.chat(List.of(ChatMessage.user("Hi")), GenerateOptions.greedy(12), pieces::add);
            assertEquals(chat.text(), String.join("", pieces));
        }
    }

    /**
     * {@link Moice#tokenizer} reads only the tokenizer: folders that hold nothing but tokenizer.json (no config, no
     * weights) give HF's ids and decoded text (the fixtures' expected.json, written by HF tokenizers).
     */
    @Test
    void tokenizerAloneGivesWhatHfGives() {
        for (String name : List.of("bytelevel_smollm", "spm_llama2", "bytelevel_llama3")) {
            Path dir = Path.of("src/test/resources/tokenizers", name);
            var expected = moice.io.Json.object(moice.io.Json.parseFile(dir.resolve("expected.json")), "expected");
            Tokenizer fromDir = Moice.tokenizer(dir), fromFile = Moice.tokenizer(dir.resolve("tokenizer.json"));
            assertEquals(moice.io.Json.integer(expected.get("vocab_size_with_added"), "vocab"), fromDir.vocabSize());
            int checked = 0;
            for (Object o : moice.io.Json.array(expected.get("probes"), "probes")) {
                var probe = moice.io.Json.object(o, "probe");
                String text = (String) probe.get("text");
                int[] ids = ((List<?>) probe.get("ids")).stream().mapToInt(v -> ((Long) v).intValue()).toArray();
                int[] plain = ((List<?>) probe.get("ids_no_special")).stream().mapToInt(v -> ((Long) v).intValue()).toArray();
                assertArrayEquals(ids, fromDir.encode(text), name + ": " + text);
                assertArrayEquals(ids, fromFile.encode(text), name + ": " + text);
                assertArrayEquals(plain, fromDir.encode(text, false), name + ": " + text);
                assertEquals(probe.get("decoded"), fromDir.decode(ids), name + ": " + text);
                checked++;
            }
            assertTrue(checked > 0, name);
        }
        MoiceException none = assertThrows(MoiceException.class, () -> Moice.tokenizer(tmp.resolve("nowhere")));
        assertTrue(none.getMessage().contains("tokenizer.json"), none.getMessage());
    }

    @Test
    void tokenizeIsWhatTheCommandLinePrints() throws IOException {
        String text = "Hello wörld, 12 tokens!";
        Path file = tmp.resolve("text.txt");
        Files.writeString(file, text);
        CliTest.Run r = cli("tokenize", "--model", model.toString(), "--text-file", file.toString());
        assertEquals(0, r.code(), r.err());
        try (Engine engine = Moice.load(model.toString())) {
            int[] ids = engine.tokenize(text);
            assertEquals(r.out().strip().replace(" ", ""), Arrays.toString(ids).replace(" ", ""));
            assertEquals(text, engine.detokenize(engine.tokenize(text, false)));
            assertArrayEquals(ids, Moice.tokenizer(model).encode(text));
        }
    }

    @Test
    void concurrentSessionsGiveWhatTheyGiveAlone() throws Exception {
        String[] prompts = {"Hello there", "Once upon a time in", "The quick brown fox"};
        try (Engine engine = Moice.load(model.toString())) {
            List<String> expected = new ArrayList<>();
            for (String m : methods)
                for (String p : prompts) expected.add(engine.session(m).generate(p, GenerateOptions.greedy(10)).text());
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                for (int round = 0; round < 2; round++) {
                    List<Future<String>> futures = new ArrayList<>();
                    for (String m : methods)
                        for (String p : prompts)
                            futures.add(pool.submit(() -> engine.session(m).generate(p, GenerateOptions.greedy(10)).text()));
                    for (int i = 0; i < futures.size(); i++) assertEquals(expected.get(i), futures.get(i).get(), "task " + i);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void badInputFailsWithAMessage() {
        try (Engine engine = Moice.load(model.toString())) {
            MoiceException e = assertThrows(MoiceException.class, () -> engine.session("bogus"));
            assertTrue(e.getMessage().contains("bogus"), e.getMessage());
            assertThrows(MoiceException.class, () -> engine.session("moice")); // no built-in routers
            assertThrows(IllegalArgumentException.class, () -> GenerateOptions.greedy(0));
            assertThrows(IllegalArgumentException.class, () -> GenerateOptions.greedy(4).withTopP(0f));
        }
        MoiceException missing = assertThrows(MoiceException.class, () -> Moice.load(tmp.resolve("nothing").toString()));
        assertTrue(missing.getMessage().contains("nothing"), missing.getMessage());
    }
}
