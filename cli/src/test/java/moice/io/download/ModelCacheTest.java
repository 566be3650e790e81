package moice.io.download;

import moice.MoiceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelCacheTest {
    @TempDir
    Path home;

    private static Properties props(String... kv) {
        Properties p = new Properties();
        p.setProperty("user.home", "/home/u");
        for (int i = 0; i < kv.length; i += 2) p.setProperty(kv[i], kv[i + 1]);
        return p;
    }

    @Test
    void homeFollowsEnvThenPropertyThenXdgThenUserHome() {
        assertEquals(Path.of("/env"), ModelCache.defaultHome(Map.of("MOICE_HOME", "/env", "XDG_CACHE_HOME", "/x"),
                props("moice.home", "/prop")));
        assertEquals(Path.of("/prop"), ModelCache.defaultHome(Map.of("MOICE_HOME", "", "XDG_CACHE_HOME", "/x"),
                props("moice.home", "/prop")));
        assertEquals(Path.of("/x/moice"), ModelCache.defaultHome(Map.of("XDG_CACHE_HOME", "/x"), props()));
        assertEquals(Path.of("/home/u/.cache/moice"), ModelCache.defaultHome(Map.of(), props()));
    }

    @Test
    void existingPathsAreUsedAsTheyAre() throws IOException {
        ModelCache cache = new ModelCache(home);
        Path dir = Files.createDirectories(home.resolve("somewhere/my-model"));
        Path gguf = Files.writeString(home.resolve("m.gguf"), "GGUF");
        assertEquals(dir, cache.locate(dir.toString()));
        assertEquals(gguf, cache.locate(gguf.toString()));
    }

    @Test
    void missingKnownModelSaysHowToPullIt() {
        ModelCache cache = new ModelCache(home);
        MoiceException e = assertThrows(MoiceException.class, () -> cache.locate("smollm2-135m-instruct"));
        assertEquals("model 'smollm2-135m-instruct' is not in the cache (MOICE_HOME=" + home
                + "); run: bin/moice pull smollm2-135m-instruct", e.getMessage());
    }

    @Test
    void pulledKnownModelResolvesToItsFile() throws IOException {
        ModelCache cache = new ModelCache(home);
        PypiModel m = PypiModel.SMOLLM2_135M_INSTRUCT;
        Path file = cache.pypiModelFile(m);
        Files.createDirectories(file.getParent());
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(m.fileSize() - 1); // a truncated file does not count
        }
        assertThrows(MoiceException.class, () -> cache.locate(m.name()));
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(m.fileSize());
        }
        assertEquals(home.resolve("models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"),
                cache.locate(m.name()));
    }

    @Test
    void repositoryIdsResolveOnlyAfterACompletePull() throws IOException {
        ModelCache cache = new ModelCache(home);
        MoiceException e = assertThrows(MoiceException.class, () -> cache.locate("org/model"));
        assertEquals("model 'org/model' is not in the cache (MOICE_HOME=" + home + "); run: bin/moice pull org/model",
                e.getMessage());

        Path dir = cache.hubDir(RepoId.parse("org/model"));
        assertEquals(home.resolve("hub/org--model"), dir);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{}");
        new HubManifest("org/model", "main", "a".repeat(40), false, Map.of()).write(dir);
        assertThrows(MoiceException.class, () -> cache.locate("org/model"), "incomplete pull");
        new HubManifest("org/model", "main", "a".repeat(40), true, Map.of()).write(dir);
        assertEquals(dir, cache.locate("org/model"));
    }

    @Test
    void ggufRepositoryResolvesToItsOnlyGguf() throws IOException {
        Path dir = Files.createDirectories(home.resolve("repo"));
        Path a = Files.writeString(dir.resolve("a.Q4_0.gguf"), "GGUF");
        assertEquals(a, ModelCache.modelPathIn(dir));
        Files.writeString(dir.resolve("b.Q8_0.gguf"), "GGUF");
        MoiceException e = assertThrows(MoiceException.class, () -> ModelCache.modelPathIn(dir));
        assertTrue(e.getMessage().contains("several .gguf files (a.Q4_0.gguf, b.Q8_0.gguf)"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{}");
        assertEquals(dir, ModelCache.modelPathIn(dir), "config.json makes it a safetensors checkpoint folder");
    }

    @Test
    void somethingElseIsExplained() {
        MoiceException e = assertThrows(MoiceException.class, () -> new ModelCache(home).locate("no-such-model"));
        assertEquals("model 'no-such-model': no such file or directory, and not a known model name"
                + " (smollm2-135m-instruct, qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct) or a Hugging Face"
                + " repository id OWNER/NAME", e.getMessage());
    }

    @Test
    void repositoryIdsAreValidated() {
        assertTrue(RepoId.looksLike("HuggingFaceTB/SmolLM2-135M-Instruct"));
        assertTrue(RepoId.looksLike("meta-llama/Llama-3.2-1B"));
        for (String bad : new String[]{"a/b/c", "/abs", "org/", "../x", "org/..", "org/a--b", "org/.hidden", "a b/c"}) {
            assertTrue(!RepoId.looksLike(bad), bad);
        }
        assertEquals("Qwen--Qwen2-0.5B", RepoId.parse("Qwen/Qwen2-0.5B").folderName());
        assertThrows(MoiceException.class, () -> RepoId.parse("org/a--b"));
    }

    @Test
    void hubUrlsAreEncodedAsHuggingfaceHubDoes() {
        try (HubClient c = new HubClient(java.net.URI.create("https://hub.example/"), null,
                java.time.Duration.ofSeconds(1))) {
            assertEquals("https://hub.example/org/m/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.json",
                    c.resolveUrl(RepoId.parse("org/m"), "refs/pr/1", "sub dir/a+b.json").toString());
        }
        assertEquals("abc", HubClient.normalizeEtag("W/\"ABC\""));
    }

    @Test
    void tokenComesFromEnvThenTokenFile() throws IOException {
        assertEquals("hf_env", HubClient.tokenFromEnvironment(Map.of("HF_TOKEN", " hf_env\n"), "/nowhere"));
        Path hfHome = Files.createDirectories(home.resolve("hf"));
        Files.writeString(hfHome.resolve("token"), "hf_file\n");
        assertEquals("hf_file", HubClient.tokenFromEnvironment(Map.of("HF_HOME", hfHome.toString()), "/nowhere"));
        assertEquals(null, HubClient.tokenFromEnvironment(Map.of(), home.toString()));
    }
}
