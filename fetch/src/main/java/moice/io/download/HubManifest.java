package moice.io.download;

import moice.MoiceException;
import moice.io.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a pull recorded in {@code $MOICE_HOME/hub/OWNER--NAME/.moice-manifest.json}: the repository, the requested
 * revision, the commit it resolved to, whether the pull finished, and per file its size, Hub ETag and commit. A file
 * whose entry matches the current commit and size is not fetched again.
 */
record HubManifest(String repo, String revision, String commit, boolean complete, Map<String, Entry> files) {
    static final String FILE_NAME = ".moice-manifest.json";

    /** One downloaded and verified file. */
    record Entry(long size, String etag, boolean lfs, String commit) {
    }

    static Path path(Path repoDir) {
        return repoDir.resolve(FILE_NAME);
    }

    /** The manifest in {@code repoDir}, or empty when there is none or it cannot be read (files are re-checked). */
    static Optional<HubManifest> read(Path repoDir) {
        Path file = path(repoDir);
        if (!Files.isRegularFile(file)) return Optional.empty();
        try {
            Map<String, Object> root = Json.object(Json.parseFile(file), file + ": manifest");
            Map<String, Entry> files = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : Json.object(root.get("files"), file + ": files").entrySet()) {
                String what = file + ": files." + e.getKey();
                Map<String, Object> f = Json.object(e.getValue(), what);
                Object etag = f.get("etag");
                files.put(e.getKey(), new Entry(Json.integer(f.get("size"), what + ".size"),
                        etag == null ? null : Json.string(etag, what + ".etag"),
                        Json.bool(f.get("lfs"), what + ".lfs"), Json.string(f.get("commit"), what + ".commit")));
            }
            return Optional.of(new HubManifest(Json.string(root.get("repo"), file + ": repo"),
                    Json.string(root.get("revision"), file + ": revision"),
                    Json.string(root.get("commit"), file + ": commit"),
                    Json.bool(root.get("complete"), file + ": complete"), files));
        } catch (MoiceException e) {
            return Optional.empty();
        }
    }

    /** Writes this manifest into {@code repoDir} atomically. */
    void write(Path repoDir) throws IOException {
        Map<String, Object> fileMap = new LinkedHashMap<>();
        files.forEach((name, e) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("size", e.size());
            m.put("etag", e.etag());
            m.put("lfs", e.lfs());
            m.put("commit", e.commit());
            fileMap.put(name, m);
        });
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("repo", repo);
        root.put("revision", revision);
        root.put("commit", commit);
        root.put("complete", complete);
        root.put("files", fileMap);
        AtomicFiles.writeString(path(repoDir), Json.write(root) + "\n");
    }
}
