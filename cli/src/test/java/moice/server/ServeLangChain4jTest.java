package moice.server;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import moice.api.GenerateOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real OpenAI client against the server: LangChain4j's {@code OpenAiChatModel} and {@code OpenAiStreamingChatModel}
 * (on the JDK's HttpClient), with an API key. Greedy answers must equal {@code bin/moice generate --chat} of the same
 * prompt (one turn) or the Java API's {@code Session.chat} of the same conversation (several turns: the CLI takes
 * one), streamed pieces must join to that text, and {@code customParameters} carry the {@code moice} extension.
 */
class ServeLangChain4jTest {
    static final String KEY = "sk-test-4f9a";
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server server;

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        server = f.start(f.options("vanilla", "moice:" + f.routers).withApiKey(KEY).withParallel(2, 8));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.stop();
        if (f != null) f.engine.close();
    }

    static OpenAiChatModel chatModel(String key, int maxTokens, Map<String, Object> custom) {
        return OpenAiChatModel.builder().baseUrl(server.url() + "/v1").apiKey(key).modelName("tiny")
                .maxTokens(maxTokens).temperature(0.0).timeout(Duration.ofSeconds(60)).customParameters(custom).build();
    }

    static OpenAiStreamingChatModel streamingModel(int maxTokens) {
        return OpenAiStreamingChatModel.builder().baseUrl(server.url() + "/v1").apiKey(KEY).modelName("tiny")
                .maxTokens(maxTokens).temperature(0.0).timeout(Duration.ofSeconds(60)).build();
    }

    /** {@code bin/moice generate --chat} of one user prompt, without its final newline. */
    static String cli(String prompt, int maxTokens, String... flags) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", f.model.toString(), "--chat", "--prompt",
                prompt, "--max-tokens", Integer.toString(maxTokens)));
        args.addAll(List.of(flags));
        moice.cli.CliTest.Run r = ServeFixture.cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return r.out().substring(0, r.out().length() - 1);
    }

    @Test
    void chatAnswersAsTheCli() {
        String prompt = "Why is the sky blue?";
        ChatResponse r = chatModel(KEY, 12, Map.of()).chat(ChatRequest.builder()
                .messages(UserMessage.from(prompt)).build());
        assertEquals(cli(prompt, 12), r.aiMessage().text());
        int promptTokens = f.engine.chatTokens(List.of(moice.api.ChatMessage.user(prompt))).length;
        assertEquals(promptTokens, r.tokenUsage().inputTokenCount());
        assertTrue(r.tokenUsage().outputTokenCount() >= 1 && r.tokenUsage().outputTokenCount() <= 12);
        assertEquals(r.tokenUsage().outputTokenCount() == 12 ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
        assertEquals("tiny", r.modelName());
    }

    @Test
    void multiTurnConversationAnswersAsTheJavaApi() {
        List<ChatMessage> conversation = List.of(SystemMessage.from("Be brief."), UserMessage.from("Hello!"),
                AiMessage.from("Hi. What do you need?"), UserMessage.from("A story about a key."));
        String answer = chatModel(KEY, 10, Map.of()).chat(conversation).aiMessage().text();
        String expected = f.engine.session("vanilla").chat(List.of(moice.api.ChatMessage.system("Be brief."),
                moice.api.ChatMessage.user("Hello!"), moice.api.ChatMessage.assistant("Hi. What do you need?"),
                moice.api.ChatMessage.user("A story about a key.")), new GenerateOptions(10, 0f, 0, 1f, 0, List.of(),
                f.engine.config().maxPositions())).text();
        assertEquals(expected, answer);
    }

    @Test
    void customParametersPickTheMethod() {
        String prompt = "What is attention?";
        String answer = chatModel(KEY, 12, Map.of("moice", Map.of("method", "moice:r"))).chat(prompt);
        assertEquals(cli(prompt, 12, "--moice", f.routers.toString()), answer);
    }

    @Test
    void streamingChatJoinsToTheSameAnswer() throws Exception {
        String prompt = "Tell me a story.";
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streamingModel(16).chat(prompt, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String piece) {
                pieces.add(piece);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        String expected = cli(prompt, 16);
        assertEquals(expected, String.join("", pieces));
        assertEquals(expected, r.aiMessage().text());
        assertTrue(pieces.size() > 1 || expected.length() <= 1, "streamed in pieces: " + pieces);
    }

    @Test
    void aWrongKeyIsRefused() {
        RuntimeException e = assertThrows(RuntimeException.class, () -> chatModel("sk-wrong", 4, Map.of()).chat("Hi"));
        assertTrue(String.valueOf(e.getMessage()).contains("incorrect API key"), e.toString());
    }
}
