package moice.io.download;

import moice.MoiceException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pulls from {@link HubTestServer}: downloads, checksums, resume, errors, caching. All offline. */
class HubDownloaderTest {
    private static final String REPO = "test-org/tiny-model";
    private static final RepoId REPO_ID = RepoId.parse(REPO);

    @TempDir
    Path home;

    private HubTestServer server;
    private ModelCache cache;
    private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    private final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);

    private byte[] config;
    private byte[] tokenizer;
    private byte[] weights;
    private byte[] gguf;

    @BeforeEach
    void setUp() throws IOException {
        server = new HubTestServer(REPO);
        cache = new ModelCache(home);
        Random random = new Random(42);
        config = "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8}\n".getBytes(StandardCharsets.UTF_8);
        tokenizer = new byte[12_345];
        random.nextBytes(tokenizer);
        weights = new byte[300_001];
        random.nextBytes(weights);
        gguf = new byte[40_000];
        random.nextBytes(gguf);
        server.put("README.md", "# tiny\n".getBytes(StandardCharsets.UTF_8), false);
        server.put("config.json", config, false);
        server.put("tokenizer.json", tokenizer, false);
        server.put("model.safetensors", weights, true);
        server.put("tiny.Q4_0.gguf", gguf, true);
    }

    @AfterEach
    void tearDown() {
        server.close();
    }

    private HubDownloader downloader(HubClient client, int attempts) {
        return new HubDownloader(client, cache, log, attempts, Duration.ZERO, Duration.ofSeconds(20));
    }

    private HubClient client(String token) {
        return new HubClient(server.endpoint(), token, Duration.ofSeconds(20));
    }

    private Path pull(int attempts, String revision, List<String> include) {
        try (HubClient client = client(null)) {
            return downloader(client, attempts).pull(REPO_ID, revision, include);
        }
    }

    private Path pull() {
        return pull(3, "main", null);
    }

    private String log() {
        return logBytes.toString(StandardCharsets.UTF_8);
    }

    private void assertNoPartialFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            assertEquals(List.of(), files.filter(p -> p.toString().endsWith(".incomplete")
                    || p.toString().endsWith(".tmp")).toList());
        }
    }

    @Test
    void fullPullFetchesDefaultSelectionAndVerifiesChecksums() throws IOException {
        Path dir;
        try (HubClient client = client("hf_test_token")) {
            dir = downloader(client, 3).pull(REPO_ID, "main", null);
        }
        assertEquals(home.resolve("hub/test-org--tiny-model"), dir);
        assertArrayEquals(config, Files.readAllBytes(dir.resolve("config.json")));
        assertArrayEquals(tokenizer, Files.readAllBytes(dir.resolve("tokenizer.json")));
        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
        assertFalse(Files.exists(dir.resolve("README.md")), "not in the default selection");
        assertFalse(Files.exists(dir.resolve("tiny.Q4_0.gguf")), "gguf only when asked");
        assertNoPartialFiles(dir);

        HubManifest manifest = HubManifest.read(dir).orElseThrow();
        assertTrue(manifest.complete());
        assertEquals(server.commit, manifest.commit());
        assertEquals("main", manifest.revision());
        assertEquals(HubTestServer.sha256(weights), manifest.files().get("model.safetensors").etag());
        assertTrue(manifest.files().get("model.safetensors").lfs());
        assertEquals(HubTestServer.gitBlobSha1(config), manifest.files().get("config.json").etag());

        // The token reaches the Hub, never the CDN (which would reject it).
        assertTrue(server.requests.stream().filter(r -> r.server().equals("hub"))
                .allMatch(r -> "Bearer hf_test_token".equals(r.authorization())));
        List<HubTestServer.Request> cdnGets = server.requests("cdn", "GET");
        assertEquals(1, cdnGets.size());
        assertNull(cdnGets.getFirst().authorization());
        assertEquals(dir, cache.locate(REPO), "a complete pull resolves by repository id");
    }

    @Test
    void secondPullIsANoOp() throws IOException {
        Path dir = pull();
        FileTime before = Files.getLastModifiedTime(dir.resolve("model.safetensors"));
        int requestsBefore = server.requests.size();

        assertEquals(dir, pull());
        List<HubTestServer.Request> second = server.requests.subList(requestsBefore, server.requests.size());
        assertEquals(1, second.size(), "only the revision lookup: " + second);
        assertTrue(second.getFirst().path().startsWith("/api/models/"));
        assertEquals(before, Files.getLastModifiedTime(dir.resolve("model.safetensors")));
    }

    @Test
    void newCommitRefetchesOnlyChangedFiles() throws IOException {
        Path dir = pull();
        byte[] newConfig = "{\"hidden_size\":16}".getBytes(StandardCharsets.UTF_8);
        server.put("config.json", newConfig, false);
        server.commit = "2222222222222222222222222222222222222222";
        int requestsBefore = server.requests.size();

        pull();
        List<HubTestServer.Request> gets = server.requests.subList(requestsBefore, server.requests.size()).stream()
                .filter(r -> r.method().equals("GET") && !r.path().startsWith("/api/")).toList();
        assertEquals(1, gets.size(), "only config.json changed: " + gets);
        assertTrue(gets.getFirst().path().endsWith("/config.json"));
        assertArrayEquals(newConfig, Files.readAllBytes(dir.resolve("config.json")));
        assertEquals(server.commit, HubManifest.read(dir).orElseThrow().commit());
    }

    @Test
    void resumesWithinOneRunAfterTheConnectionDrops() throws IOException {
        server.dropAfterBytes = 100_000;
        Path dir = pull();

        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
        List<HubTestServer.Request> gets = server.contentGets("model.safetensors");
        assertEquals(2, gets.size(), gets.toString());
        assertNull(gets.get(0).range());
        long resumedAt = Long.parseLong(gets.get(1).range().replaceAll("bytes=(\\d+)-", "$1"));
        assertTrue(resumedAt > 0 && resumedAt <= 100_000, "resumed at " + resumedAt);
        assertEquals(206, gets.get(1).status());
        assertTrue(log().contains("retrying from byte"), log());
        assertNoPartialFiles(dir);
    }

    @Test
    void resumesInTheNextRunAfterAFailedOne() throws IOException {
        server.dropAfterBytes = 100_000;
        MoiceException e = assertThrows(MoiceException.class, () -> pull(1, "main", null));
        assertTrue(e.getMessage().contains("network error for " + server.endpoint() + "/" + REPO
                + "/resolve/" + server.commit + "/model.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("rerun the pull to resume"), e.getMessage());
        Path dir = cache.hubDir(REPO_ID);
        Path partial = dir.resolve("model.safetensors.incomplete");
        long kept = Files.size(partial);
        assertTrue(kept > 0 && kept <= 100_000, "kept " + kept);
        assertFalse(Files.exists(dir.resolve("model.safetensors")));
        assertThrows(MoiceException.class, () -> cache.locate(REPO), "an interrupted pull is not usable");

        pull(1, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
        List<HubTestServer.Request> gets = server.contentGets("model.safetensors");
        assertEquals("bytes=" + kept + "-", gets.getLast().range());
        assertNoPartialFiles(dir);
    }

    @Test
    void restartsWhenTheServerIgnoresRange() throws IOException {
        server.dropAfterBytes = 50_000;
        server.ignoreRange = true;
        Path dir = pull();

        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
        List<HubTestServer.Request> gets = server.contentGets("model.safetensors");
        assertEquals(2, gets.size());
        assertNotNull(gets.get(1).range(), "a resume was asked for");
        assertEquals(200, gets.get(1).status(), "and refused with the whole file");
    }

    @Test
    void abandonsAStalledTransferAndResumes() throws IOException {
        server.stallAfterBytes = 60_000;
        server.stallMillis = 3_000;
        Path dir;
        try (HubClient client = client(null)) {
            dir = new HubDownloader(client, cache, log, 3, Duration.ZERO, Duration.ofMillis(500))
                    .pull(REPO_ID, "main", null);
        }
        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
        assertTrue(log().contains("no data for"), log());
        assertNotNull(server.contentGets("model.safetensors").getLast().range());
    }

    @Test
    void corruptedLfsContentFailsAndLeavesNothing() throws IOException {
        server.corrupted.add("model.safetensors");
        MoiceException e = assertThrows(MoiceException.class, this::pull);
        assertTrue(e.getMessage().contains("model.safetensors: checksum mismatch: sha256"), e.getMessage());
        assertTrue(e.getMessage().contains(HubTestServer.sha256(weights)), e.getMessage());
        Path dir = cache.hubDir(REPO_ID);
        assertFalse(Files.exists(dir.resolve("model.safetensors")));
        assertNoPartialFiles(dir);
        assertThrows(MoiceException.class, () -> cache.locate(REPO));
    }

    @Test
    void corruptedPlainFileFailsOnItsGitBlobSha() throws IOException {
        server.corrupted.add("tokenizer.json");
        MoiceException e = assertThrows(MoiceException.class, this::pull);
        assertTrue(e.getMessage().contains("tokenizer.json: checksum mismatch: git blob sha1"), e.getMessage());
        assertFalse(Files.exists(cache.hubDir(REPO_ID).resolve("tokenizer.json")));
        assertNoPartialFiles(cache.hubDir(REPO_ID));
    }

    @Test
    void unknownRevisionIsA404() {
        MoiceException e = assertThrows(MoiceException.class, () -> pull(3, "no-such-branch", null));
        assertTrue(e.getMessage().startsWith(REPO + ": revision 'no-such-branch' not found (HTTP 404 from "
                + server.endpoint() + "/api/models/" + REPO + "/revision/no-such-branch)"), e.getMessage());
    }

    @Test
    void unknownRepositorySuggestsAToken() {
        MoiceException e;
        try (HubClient client = client(null)) {
            e = assertThrows(MoiceException.class,
                    () -> downloader(client, 3).pull(RepoId.parse("test-org/missing"), "main", null));
        }
        assertTrue(e.getMessage().startsWith("test-org/missing: access denied (HTTP 401"), e.getMessage());
        assertTrue(e.getMessage().contains("does not exist, or it is private or gated"), e.getMessage());
        assertTrue(e.getMessage().contains("set HF_TOKEN"), e.getMessage());
    }

    @Test
    void gatedRepositoryNeedsAToken() throws IOException {
        server.gatedStatus = 403;
        MoiceException e = assertThrows(MoiceException.class, this::pull);
        assertTrue(e.getMessage().startsWith(REPO + " is a gated repository (HTTP 403"), e.getMessage());
        assertTrue(e.getMessage().contains("set HF_TOKEN"), e.getMessage());

        server.gatedStatus = 401;
        e = assertThrows(MoiceException.class, this::pull);
        assertTrue(e.getMessage().startsWith(REPO + " is a gated repository (HTTP 401"), e.getMessage());

        try (HubClient client = client("hf_test_token")) {
            Path dir = downloader(client, 3).pull(REPO_ID, "main", null);
            assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
        }
    }

    @Test
    void includePatternsReplaceTheDefaultsAndPickAGguf() throws IOException {
        Path dir = pull(3, "main", List.of("*.gguf"));
        assertArrayEquals(gguf, Files.readAllBytes(dir.resolve("tiny.Q4_0.gguf")));
        assertFalse(Files.exists(dir.resolve("config.json")));
        assertEquals(dir.resolve("tiny.Q4_0.gguf"), cache.locate(REPO), "a lone gguf is the model");

        MoiceException e = assertThrows(MoiceException.class, () -> pull(3, "main", List.of("*.bin")));
        assertTrue(e.getMessage().contains("no file matches --include [*.bin]"), e.getMessage());
    }

    @Test
    void ggufOnlyRepositoryExplainsInclude() {
        server.files.remove("model.safetensors");
        MoiceException e = assertThrows(MoiceException.class, this::pull);
        assertTrue(e.getMessage().contains("it holds .gguf files, pick one with --include"), e.getMessage());
    }

    @Test
    void shardedCheckpointFetchesTheShardsTheIndexNames() throws IOException {
        server.files.remove("model.safetensors");
        byte[] shard1 = new byte[7_000];
        byte[] shard2 = new byte[9_000];
        new Random(1).nextBytes(shard1);
        new Random(2).nextBytes(shard2);
        server.put("model-00001-of-00002.safetensors", shard1, true);
        server.put("model-00002-of-00002.safetensors", shard2, true);
        server.put("consolidated.safetensors", new byte[20_000], true);
        server.put("model.safetensors.index.json", ("{\"metadata\":{\"total_size\":16000},\"weight_map\":{"
                + "\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\","
                + "\"c\":\"model-00001-of-00002.safetensors\"}}").getBytes(StandardCharsets.UTF_8), false);

        Path dir = pull();
        assertArrayEquals(shard1, Files.readAllBytes(dir.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(shard2, Files.readAllBytes(dir.resolve("model-00002-of-00002.safetensors")));
        assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")));
        assertFalse(Files.exists(dir.resolve("consolidated.safetensors")), "a duplicate layout is skipped");
        assertTrue(log().contains("(5 fetched, 0 already present)"), log());
    }

    @Test
    void followsRelativeRedirectsOnMetadata() throws IOException {
        server.put("config-v2.json", config, false);
        server.relativeRedirects.put("config.json", "config-v2.json");
        Path dir = pull();
        assertArrayEquals(config, Files.readAllBytes(dir.resolve("config.json")));
    }

    @Test
    void adoptsAnExistingFileWhoseChecksumMatches() throws IOException {
        Path dir = cache.hubDir(REPO_ID);
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.safetensors"), weights);
        pull();
        assertEquals(List.of(), server.contentGets("model.safetensors"), "verified, not fetched");
        assertTrue(HubManifest.read(dir).orElseThrow().files().containsKey("model.safetensors"));
    }

    @Test
    void replacesAnExistingFileWhoseChecksumDiffers() throws IOException {
        Path dir = cache.hubDir(REPO_ID);
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.safetensors"), new byte[weights.length]);
        pull();
        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
    }

    @Test
    void refusesPathsOutsideTheRepositoryFolder() {
        server.put("../escape.json", config, false);
        MoiceException e = assertThrows(MoiceException.class, () -> pull(3, "main", List.of("*.json")));
        assertTrue(e.getMessage().contains("refusing file name '../escape.json'"), e.getMessage());
        assertFalse(Files.exists(home.resolve("hub/escape.json")));
    }

    @Test
    void networkFailureNamesTheUrl() {
        int port = server.endpoint().getPort();
        server.close();
        MoiceException e = assertThrows(MoiceException.class, this::pull);
        assertTrue(e.getMessage().startsWith("network error for http://127.0.0.1:" + port + "/api/models/" + REPO),
                e.getMessage());
    }
}
