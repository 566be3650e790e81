package moice.train;

import moice.MoiceException;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TrainingData} and {@link DocumentReader} on the byte-level SmolLM test tokenizer with the real SmolLM2 chat
 * template, and on the SentencePiece Llama-2 test tokenizer with the real Llama-2 chat template.
 */
class TrainingDataTest {
    static final Tokenizer SMOL = Tokenizer.load(Path.of("src/test/resources/tokenizers/bytelevel_smollm/tokenizer.json"));
    static final Supplier<ChatTemplate> SMOL_CHAT = () -> ChatTemplate.fromTokenizerConfig(
            Path.of("src/test/resources/chat/smollm2-instruct/tokenizer_config.json"));
    static final Tokenizer LLAMA2 = Tokenizer.load(Path.of("src/test/resources/tokenizers/spm_llama2/tokenizer.json"));
    static final Supplier<ChatTemplate> LLAMA2_CHAT = () -> ChatTemplate.fromTokenizerConfig(
            Path.of("src/test/resources/chat/llama2-chat/tokenizer_config.json"));
    static final Supplier<ChatTemplate> NO_TEMPLATE = () -> {
        throw new AssertionError("a text corpus must not need a chat template");
    };

    @TempDir
    Path tmp;

    Path file(String name, String content) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    static int[] concat(List<int[]> parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] all = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    @Test
    void textIsTokenisedWithSpecialTokensAndPackedByConcatenation() throws IOException {
        String a = "The quick brown fox jumps over the lazy dog.", b = "Über café naïve — ünïcödé 123.",
                c = "Short";
        Path data = file("t.jsonl", "{\"text\": \"" + a + "\"}\n{\"text\": \"" + b + "\", \"meta\": 1}\n{\"text\": \"" + c + "\"}\n");
        // the SentencePiece tokenizer adds BOS: each document starts with it, as HF tokenizer(text) does
        int[] all = concat(List.of(LLAMA2.encode(a), LLAMA2.encode(b), LLAMA2.encode(c)));
        assertEquals(1, LLAMA2.encode(a)[0], "BOS");
        int maxLen = 7;
        TrainingData d = TrainingData.load(data, LLAMA2, NO_TEMPLATE, maxLen, TrainingData.LossOn.ALL, false);
        int full = all.length / maxLen, tail = all.length % maxLen;
        assertEquals(full + (tail >= 2 ? 1 : 0), d.sequences().size());
        for (int s = 0; s < full; s++) {
            assertArrayEquals(Arrays.copyOfRange(all, s * maxLen, (s + 1) * maxLen), d.sequences().get(s).tokens());
            assertNull(d.sequences().get(s).targets());
        }
        if (tail >= 2) assertArrayEquals(Arrays.copyOfRange(all, full * maxLen, all.length), d.sequences().get(full).tokens());
        assertEquals(3, d.stats().documents());
        assertEquals(all.length, d.stats().tokens());
        TrainingData two = TrainingData.load(data, LLAMA2, NO_TEMPLATE, maxLen, TrainingData.LossOn.ALL, false, 2);
        assertEquals(2, two.stats().documents());
        assertEquals(LLAMA2.encode(a).length + LLAMA2.encode(b).length, two.stats().tokens());
        assertEquals(tail == 1 ? 1 : 0, d.stats().droppedShort());
    }

    @Test
    void aOneTokenTailIsDroppedAndCounted() throws IOException {
        int[] ids = SMOL.encode("Hello world");
        assertEquals(3, ids.length);
        Path data = file("t.jsonl", "{\"text\": \"Hello world\"}\n");
        TrainingData d = TrainingData.load(data, SMOL, NO_TEMPLATE, 2, TrainingData.LossOn.ALL, false);
        assertEquals(1, d.sequences().size());
        assertArrayEquals(new int[]{ids[0], ids[1]}, d.sequences().get(0).tokens());
        assertEquals(1, d.stats().droppedShort());
        assertEquals(1, SMOL.encode("H").length);
        MoiceException e = assertThrows(MoiceException.class, () -> TrainingData.load(file("one.jsonl",
                "{\"text\": \"H\"}\n"), SMOL, NO_TEMPLATE, 8, TrainingData.LossOn.ALL, false));
        assertTrue(e.getMessage().contains("no training sequence"), e.getMessage());
    }

    static final String CHAT_LINE = "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}, "
            + "{\"role\": \"assistant\", \"content\": \"It is 4.\"}, {\"role\": \"user\", \"content\": \"And 3+3?\"}, "
            + "{\"role\": \"assistant\", \"content\": \"Six.\"}]}";

    static List<ChatTemplate.Message> chatMessages() {
        return List.of(ChatTemplate.Message.user("What is 2+2?"), ChatTemplate.Message.assistant("It is 4."),
                ChatTemplate.Message.user("And 3+3?"), ChatTemplate.Message.assistant("Six."));
    }

    @Test
    void messagesAreRenderedWithTheChatTemplate() throws IOException {
        TrainingData d = TrainingData.load(file("c.jsonl", CHAT_LINE + "\n"), SMOL, SMOL_CHAT, 4096,
                TrainingData.LossOn.ALL, false);
        String rendered = SMOL_CHAT.get().render(chatMessages(), false);
        assertTrue(rendered.startsWith("<|im_start|>system\n"), "SmolLM2 adds its default system turn");
        assertArrayEquals(SMOL.encode(rendered, false), d.sequences().get(0).tokens());
    }

    @Test
    void openHermesArrayMapsToTheSameConversation() throws IOException {
        Path hermes = file("hermes.json", """
                [{"conversations": [{"from": "human", "value": "What is 2+2?", "weight": null},
                  {"from": "gpt", "value": "It is 4.", "weight": 1}, {"from": "human", "value": "And 3+3?"},
                  {"from": "gpt", "value": "Six."}], "source": "x"},
                 {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                  {"from": "gpt", "value": "Hello."}]}]
                """);
        TrainingData d = TrainingData.load(hermes, SMOL, SMOL_CHAT, 100_000, TrainingData.LossOn.ALL, false);
        ChatTemplate t = SMOL_CHAT.get();
        int[] want = concat(List.of(SMOL.encode(t.render(chatMessages(), false), false),
                SMOL.encode(t.render(List.of(ChatTemplate.Message.system("Be brief."), ChatTemplate.Message.user("Hi"),
                        ChatTemplate.Message.assistant("Hello.")), false), false)));
        assertArrayEquals(want, d.sequences().get(0).tokens());
        assertEquals(2, d.stats().documents());

        Path bad = file("bad.json", "[{\"conversations\": [{\"from\": \"robot\", \"value\": \"x\"}]}]");
        MoiceException e = assertThrows(MoiceException.class,
                () -> TrainingData.load(bad, SMOL, SMOL_CHAT, 64, TrainingData.LossOn.ALL, false));
        assertTrue(e.getMessage().contains("bad.json: element 0") && e.getMessage().contains("robot"), e.getMessage());
    }

    @Test
    void arrayElementsAreFoundPastBracketsCommasAndQuotesInStrings() throws IOException {
        String tricky = "a, [b] {c} \\\"d\\\" ]}, e\\\\";
        Path hermes = file("tricky.json", " [ {\"conversations\": [{\"from\": \"human\", \"value\": \"" + tricky
                + "\"}, {\"from\": \"gpt\", \"value\": \"ok\"}]} ,\n 7, {\"text\": \"" + tricky + "\"} ]\n");
        String value = "a, [b] {c} \"d\" ]}, e\\";
        MoiceException e = assertThrows(MoiceException.class,
                () -> TrainingData.load(hermes, SMOL, SMOL_CHAT, 100_000, TrainingData.LossOn.ALL, false));
        assertTrue(e.getMessage().startsWith(hermes + ": element 1"), e.getMessage());
        TrainingData d = TrainingData.load(hermes, SMOL, SMOL_CHAT, 100_000, TrainingData.LossOn.ALL, true);
        assertEquals(2, d.stats().documents());
        assertEquals(1, d.stats().skippedRecords());
        assertEquals(1, TrainingData.load(hermes, SMOL, SMOL_CHAT, 100_000, TrainingData.LossOn.ALL, true, 1)
                .stats().documents());
        int[] want = concat(List.of(SMOL.encode(SMOL_CHAT.get().render(List.of(ChatTemplate.Message.user(value),
                ChatTemplate.Message.assistant("ok")), false), false), SMOL.encode(value)));
        assertArrayEquals(want, d.sequences().get(0).tokens());

        for (String broken : new String[]{"[{\"text\": \"x\"}", "[{\"text\": \"x\"}] junk", "[{\"text\": \"x\"}}]"}) {
            Path f = file("broken.json", broken);
            MoiceException b = assertThrows(MoiceException.class,
                    () -> TrainingData.load(f, SMOL, NO_TEMPLATE, 64, TrainingData.LossOn.ALL, true), broken);
            assertTrue(b.getMessage().startsWith(f.toString()), b.getMessage());
        }
        Path empty = file("empty.json", "[ ]");
        assertThrows(MoiceException.class, () -> TrainingData.load(empty, SMOL, NO_TEMPLATE, 64, TrainingData.LossOn.ALL, false));
    }

    /** Expected mask found on the ids alone: after each {@code <|im_start|>assistant\n} through {@code <|im_end|>\n}. */
    @Test
    void assistantMaskCoversTheRepliesAndTheirEndOfTurn() throws IOException {
        TrainingData d = TrainingData.load(file("c.jsonl", CHAT_LINE + "\n"), SMOL, SMOL_CHAT, 4096,
                TrainingData.LossOn.ASSISTANT, false);
        TokenSequence s = d.sequences().get(0);
        int[] ids = s.tokens();
        int[] header = SMOL.encode("<|im_start|>assistant\n", false);
        int imEnd = SMOL.tokenId("<|im_end|>").getAsInt(), newline = SMOL.encode("\n", false)[0];
        boolean[] want = new boolean[ids.length];
        int replies = 0;
        for (int i = 0; i + header.length <= ids.length; i++) {
            if (!Arrays.equals(Arrays.copyOfRange(ids, i, i + header.length), header)) continue;
            int t = i + header.length;
            while (ids[t] != imEnd) want[t++] = true;
            want[t] = true;
            assertEquals(newline, ids[t + 1]);
            want[t + 1] = true;
            replies++;
        }
        assertEquals(2, replies);
        assertArrayEquals(want, s.targets());
        int counted = 0;
        for (boolean b : want) if (b) counted++;
        assertEquals(counted, s.targetCount());
        assertEquals(counted, d.stats().targetTokens());
    }

    /** Llama-2: the reply follows "[/INST]" and ends with " </s>"; SentencePiece merges across the boundary are the risk. */
    @Test
    void assistantMaskWithTheLlama2Template() throws IOException {
        TrainingData d = TrainingData.load(file("c.jsonl", CHAT_LINE + "\n"), LLAMA2, LLAMA2_CHAT, 4096,
                TrainingData.LossOn.ASSISTANT, false);
        TokenSequence s = d.sequences().get(0);
        int[] ids = s.tokens();
        assertArrayEquals(LLAMA2.encode(LLAMA2_CHAT.get().render(chatMessages(), false), false), ids);
        int[] inst = LLAMA2.encode("[/INST]", false);
        int eos = LLAMA2.tokenId("</s>").getAsInt();
        boolean[] want = new boolean[ids.length];
        int replies = 0;
        for (int i = 0; i + inst.length <= ids.length; i++) {
            if (!Arrays.equals(Arrays.copyOfRange(ids, i, i + inst.length), inst)) continue;
            int t = i + inst.length;
            while (ids[t] != eos) want[t++] = true;
            want[t] = true;
            replies++;
        }
        assertEquals(2, replies);
        assertArrayEquals(want, s.targets());
    }

    @Test
    void assistantModeDropsPackedSequencesWithoutReplyTokens() throws IOException {
        // one conversation cut into 4-token sequences: those inside the system/user part carry no loss
        TrainingData d = TrainingData.load(file("c.jsonl", CHAT_LINE + "\n"), SMOL, SMOL_CHAT, 4,
                TrainingData.LossOn.ASSISTANT, false);
        assertTrue(d.stats().droppedNoTargets() > 0);
        for (TokenSequence s : d.sequences()) {
            assertTrue(s.targetCount() > 0);
            assertEquals(false, s.targets()[0], "position 0 is never predicted");
        }
        MoiceException e = assertThrows(MoiceException.class, () -> TrainingData.load(file("t.jsonl",
                "{\"text\": \"plain\"}\n"), SMOL, SMOL_CHAT, 64, TrainingData.LossOn.ASSISTANT, false));
        assertTrue(e.getMessage().contains("t.jsonl:1") && e.getMessage().contains("assistant"), e.getMessage());
    }

    @Test
    void badLinesNameFileAndLineOrAreSkippedAndCounted() throws IOException {
        String good = "{\"text\": \"Hello world, this is fine.\"}";
        String[] bad = {"", "{\"text\": ", "[1, 2]", "{\"txt\": \"typo\"}", "{\"text\": \"\"}", "{\"messages\": []}",
                "{\"messages\": [{\"role\": \"user\"}]}", "{\"text\": \"a\", \"messages\": []}"};
        for (String b : bad) {
            Path data = file("bad.jsonl", good + "\n" + good + "\n" + b + "\n" + good + "\n");
            MoiceException e = assertThrows(MoiceException.class,
                    () -> TrainingData.load(data, SMOL, NO_TEMPLATE, 64, TrainingData.LossOn.ALL, false), b);
            assertTrue(e.getMessage().startsWith(data + ":3"), b + " -> " + e.getMessage());
            TrainingData d = TrainingData.load(data, SMOL, NO_TEMPLATE, 64, TrainingData.LossOn.ALL, true);
            assertEquals(3, d.stats().documents(), b);
            assertEquals(1, d.stats().skippedRecords(), b);
        }
        assertThrows(MoiceException.class, () -> TrainingData.load(file("empty.jsonl", "\n \n"), SMOL, NO_TEMPLATE, 64,
                TrainingData.LossOn.ALL, false));
        Path latin1 = tmp.resolve("latin1.jsonl");
        Files.write(latin1, new byte[]{'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xE9, '"', '}', '\n'});
        MoiceException e = assertThrows(MoiceException.class,
                () -> TrainingData.load(latin1, SMOL, NO_TEMPLATE, 64, TrainingData.LossOn.ALL, false));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
    }

    @Test
    void digestChangesWithTokensAndMask() throws IOException {
        Path data = file("c.jsonl", CHAT_LINE + "\n");
        String all = TrainingData.load(data, SMOL, SMOL_CHAT, 4096, TrainingData.LossOn.ALL, false).digest();
        assertEquals(all, TrainingData.load(data, SMOL, SMOL_CHAT, 4096, TrainingData.LossOn.ALL, false).digest());
        List<String> others = new ArrayList<>(List.of(
                TrainingData.load(data, SMOL, SMOL_CHAT, 4096, TrainingData.LossOn.ASSISTANT, false).digest(),
                TrainingData.load(data, SMOL, SMOL_CHAT, 16, TrainingData.LossOn.ALL, false).digest()));
        for (String o : others) assertTrue(!o.equals(all));
    }
}
