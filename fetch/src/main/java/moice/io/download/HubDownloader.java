package moice.io.download;

import moice.MoiceException;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Pulls files of a Hugging Face Hub repository into {@code $MOICE_HOME/hub/OWNER--NAME/}.
 *
 * <p>Per file: a HEAD gives size and checksum; the bytes go to {@code PATH.incomplete}, resumed with
 * {@code Range: bytes=N-} after an interruption (within this run, up to {@code maxAttempts} tries, and across runs);
 * the size and the checksum (sha256 for LFS files, git blob sha1 for plain ones) are checked; then the file is
 * fsynced and renamed into place. A checksum mismatch removes the partial file. Files recorded in the manifest for
 * the same commit, or whose recorded ETag still matches, are not fetched again.
 */
public final class HubDownloader {
    private final HubClient client;
    private final ModelCache cache;
    private final PrintStream log;
    private final int maxAttempts;
    private final Duration retryDelay;
    private final Duration stallTimeout;

    /** A downloader with production retry settings: 5 tries per file, back-off 2 s × try, 60 s stall limit. */
    public HubDownloader(HubClient client, ModelCache cache, PrintStream log) {
        this(client, cache, log, 5, Duration.ofSeconds(2), Duration.ofSeconds(60));
    }

    HubDownloader(HubClient client, ModelCache cache, PrintStream log, int maxAttempts, Duration retryDelay,
                  Duration stallTimeout) {
        if (maxAttempts < 1) throw new IllegalArgumentException("maxAttempts " + maxAttempts);
        this.client = client;
        this.cache = cache;
        this.log = log;
        this.maxAttempts = maxAttempts;
        this.retryDelay = retryDelay;
        this.stallTimeout = stallTimeout;
    }

    /**
     * Brings the selected files of {@code repo} at {@code revision} into the cache.
     *
     * @param revision        branch, tag or commit (e.g. {@code main})
     * @param includePatterns shell globs selecting files; null or empty for the default selection (config,
     *                        tokenizer and generation files, chat template, and the safetensors weights); a .gguf
     *                        is only fetched when a pattern names it
     * @return the repository folder
     * @throws MoiceException for access errors (401/403), missing repositories, revisions or files (404), network
     *                        failures after all retries (naming the URL), size or checksum mismatches
     */
    public Path pull(RepoId repo, String revision, List<String> includePatterns) {
        Path dir = cache.hubDir(repo);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new MoiceException(dir + ": cannot create cache folder: " + e.getMessage(), e);
        }
        try (FileChannel ignored = AtomicFiles.lock(dir.resolve(".moice-pull.lock"), repo.toString())) {
            HubClient.RepoInfo info = client.repoInfo(repo, revision);
            log.println("moice: " + repo + " @ " + revision + " = commit " + info.commit() + " ("
                    + info.files().size() + " files in the repository)");
            Pull pull = new Pull(repo, revision, info.commit(), dir,
                    HubManifest.read(dir).map(m -> new LinkedHashMap<>(m.files())).orElseGet(LinkedHashMap::new));
            boolean custom = includePatterns != null && !includePatterns.isEmpty();
            List<String> selected = custom ? FileSelection.matching(info.files(), includePatterns)
                    : FileSelection.defaults(info.files());
            checkSelection(repo, revision, info.files(), selected, custom ? includePatterns : null);
            if (!custom && selected.contains(FileSelection.SAFETENSORS_INDEX)) {
                // The index names the shards, so it comes first; the rest follow in one batch.
                pull.fetch(List.of(FileSelection.SAFETENSORS_INDEX));
                List<String> rest = new ArrayList<>(selected);
                rest.remove(FileSelection.SAFETENSORS_INDEX);
                for (String shard : FileSelection.shardsFromIndex(dir.resolve(FileSelection.SAFETENSORS_INDEX),
                        info.files())) {
                    if (!rest.contains(shard)) rest.add(shard);
                }
                selected = rest;
            }
            pull.fetch(selected);
            pull.writeManifest(true);
            log.println("moice: " + repo + " ready in " + dir + " (" + pull.fetched + " fetched, " + pull.skipped
                    + " already present)");
            return dir;
        } catch (IOException e) {
            throw new MoiceException(dir + ": " + HubClient.describe(e), e);
        }
    }

    private static void checkSelection(RepoId repo, String revision, List<String> files, List<String> selected,
                                       List<String> patterns) {
        if (patterns != null) {
            if (selected.isEmpty()) {
                throw new MoiceException(repo + " @ " + revision + ": no file matches --include " + patterns
                        + "; files: " + preview(files));
            }
            return;
        }
        if (FileSelection.hasWeights(selected)) return;
        boolean hasGguf = files.stream().anyMatch(f -> f.endsWith(".gguf"));
        throw new MoiceException(repo + " @ " + revision + ": no safetensors weights found"
                + (hasGguf ? "; it holds .gguf files, pick one with --include (e.g. --include '*Q4_K_M.gguf')"
                : "; pick files with --include PATTERN") + "; files: " + preview(files));
    }

    private static String preview(List<String> files) {
        int shown = Math.min(files.size(), 20);
        return String.join(", ", files.subList(0, shown)) + (files.size() > shown ? ", ..." : "");
    }

    /** The state of one pull: which commit, what the manifest holds, counters. */
    private final class Pull {
        final RepoId repo;
        final String revision;
        final String commit;
        final Path dir;
        final Map<String, HubManifest.Entry> entries;
        int fetched;
        int skipped;

        Pull(RepoId repo, String revision, String commit, Path dir, Map<String, HubManifest.Entry> entries) {
            this.repo = repo;
            this.revision = revision;
            this.commit = commit;
            this.dir = dir;
            this.entries = entries;
        }

        void fetch(List<String> paths) throws IOException {
            List<HubClient.FileMeta> missing = new ArrayList<>();
            for (String path : paths) {
                Path target = target(path);
                HubManifest.Entry entry = entries.get(path);
                if (entry != null && entry.commit().equals(commit) && hasSize(target, entry.size())) {
                    skipped++;
                    continue;
                }
                HubClient.FileMeta meta = client.fileMeta(repo, commit, path);
                if (hasSize(target, meta.size()) && (entry != null && meta.etag() != null
                        && meta.etag().equals(entry.etag()) || matchesChecksum(target, meta))) {
                    record(meta);
                    skipped++;
                    continue;
                }
                missing.add(meta);
            }
            checkFreeSpace(missing);
            for (HubClient.FileMeta meta : missing) {
                download(meta);
                record(meta);
                fetched++;
            }
        }

        private void record(HubClient.FileMeta meta) throws IOException {
            entries.put(meta.path(), new HubManifest.Entry(meta.size(), meta.etag(), meta.lfs(), commit));
            writeManifest(false);
        }

        void writeManifest(boolean complete) throws IOException {
            new HubManifest(repo.toString(), revision, commit, complete, entries).write(dir);
        }

        /** The local path of a repository file, refusing names that would leave the repository folder. */
        private Path target(String path) {
            Path target = dir.resolve(path).normalize();
            if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || !target.startsWith(dir)
                    || target.equals(dir) || path.endsWith(".incomplete") || path.startsWith(".moice")) {
                throw new MoiceException(repo + ": refusing file name '" + path + "' from the Hub (unsafe path)");
            }
            return target;
        }

        private void checkFreeSpace(List<HubClient.FileMeta> files) throws IOException {
            long needed = 0;
            for (HubClient.FileMeta f : files) {
                needed += Math.max(0, f.size() - partialSize(partialOf(target(f.path()))));
            }
            long free = Files.getFileStore(dir).getUsableSpace();
            if (needed > free) {
                throw new MoiceException(dir + ": needs " + mb(needed) + " MB for " + repo + " but only " + mb(free)
                        + " MB are free; free space or set MOICE_HOME to a bigger disk");
            }
            if (needed > 0) log.println("moice: fetching " + files.size() + " file(s), " + mb(needed) + " MB");
        }

        private void download(HubClient.FileMeta meta) throws IOException {
            Path target = target(meta.path());
            Path partial = partialOf(target);
            Files.createDirectories(target.getParent());
            URI url = client.resolveUrl(repo, commit, meta.path());
            Checksum checksum = Checksum.of(meta);
            if (checksum == null) {
                log.println("moice: warning: the Hub gave no checksum for " + meta.path() + "; only its size is checked");
            }
            MessageDigest digest = null;
            for (int attempt = 1; digest == null; attempt++) {
                try {
                    digest = transfer(url, partial, meta, checksum);
                } catch (TransientFailure e) {
                    long have = partialSize(partial);
                    if (attempt >= maxAttempts) {
                        throw new MoiceException("network error for " + url + ": " + e.getMessage() + " (after "
                                + attempt + " tries); " + have + " of " + meta.size() + " bytes kept in " + partial
                                + ", rerun the pull to resume");
                    }
                    Duration wait = retryDelay.multipliedBy(attempt);
                    log.println("moice: " + meta.path() + ": " + e.getMessage() + "; retrying from byte " + have
                            + " in " + wait.toMillis() / 1000.0 + " s (try " + (attempt + 1) + "/" + maxAttempts + ")");
                    sleep(wait);
                }
            }
            if (checksum != null) {
                String actual = Checksums.hex(digest.digest());
                if (!actual.equals(meta.etag())) {
                    Files.deleteIfExists(partial);
                    throw new MoiceException(repo + "/" + meta.path() + ": checksum mismatch: " + checksum.name
                            + " of the download is " + actual + ", the Hub says " + meta.etag() + " (" + url
                            + "); the partial file was removed, rerun the pull");
                }
            }
            AtomicFiles.fsync(partial);
            AtomicFiles.moveIntoPlace(partial, target);
        }

        /**
         * One GET of the rest of the file. Returns the digest of the complete partial file (null checksum: a
         * throwaway sha256), or throws {@link TransientFailure} when the transfer should be retried.
         */
        private MessageDigest transfer(URI url, Path partial, HubClient.FileMeta meta, Checksum checksum)
                throws IOException {
            long have = partialSize(partial);
            if (have > meta.size()) {
                Files.delete(partial); // longer than the file: not a prefix of it
                have = 0;
            }
            Supplier<MessageDigest> fresh = () -> checksum != null ? checksum.newDigest(meta.size())
                    : Checksums.sha256();
            MessageDigest primed = fresh.get();
            if (have > 0) Checksums.update(primed, partial, have);
            if (have == meta.size()) return primed; // finished earlier, rename was interrupted
            Map<String, String> headers = new LinkedHashMap<>();
            headers.put("Accept-Encoding", "identity");
            if (have > 0) {
                headers.put("Range", "bytes=" + have + "-");
                log.println("moice: resuming " + meta.path() + " at byte " + have);
            }
            HubClient.StallWatch watch = new HubClient.StallWatch(stallTimeout);
            PartialFileSink sink = new PartialFileSink(partial, have, meta.size(), primed, fresh, watch, log,
                    meta.path());
            HttpResponse<Long> response;
            try {
                response = client.get(url, headers, sink, watch);
            } catch (IOException e) {
                sink.close();
                if (sink.diskError() != null) throw writeError(partial, sink.diskError());
                if (sink.tooLong()) throw tooLong(partial, meta, url);
                throw new TransientFailure(HubClient.describe(e));
            } finally {
                sink.close();
            }
            int status = response.statusCode();
            if (sink.diskError() != null) throw writeError(partial, sink.diskError());
            if (status == 200 || status == 206) {
                if (sink.rejectedRangeStart() >= 0) {
                    Files.deleteIfExists(partial);
                    throw new TransientFailure("the server resumed at byte " + sink.rejectedRangeStart()
                            + " instead of " + have + "; starting over");
                }
                long size = Files.size(partial);
                if (size != meta.size()) {
                    throw new TransientFailure("the transfer ended at byte " + size + " of " + meta.size());
                }
                sink.finishProgress();
                return sink.digest();
            }
            if (status == 416) {
                Files.deleteIfExists(partial);
                throw new TransientFailure("the server refused to resume at byte " + have + " (HTTP 416); starting over");
            }
            if (status == 429 || status >= 500) throw new TransientFailure("HTTP " + status);
            throw client.httpError(response, repo, commit, meta.path());
        }

        private MoiceException tooLong(Path partial, HubClient.FileMeta meta, URI url) throws IOException {
            Files.deleteIfExists(partial);
            return new MoiceException(repo + "/" + meta.path() + ": " + url + " sent more than the " + meta.size()
                    + " bytes the Hub announced; the partial file was removed, rerun the pull");
        }

        private MoiceException writeError(Path partial, IOException e) {
            return new MoiceException(partial + ": cannot write: " + HubClient.describe(e), e);
        }

        private boolean matchesChecksum(Path file, HubClient.FileMeta meta) throws IOException {
            Checksum checksum = Checksum.of(meta);
            if (checksum == null) return false;
            MessageDigest d = checksum.newDigest(meta.size());
            Checksums.update(d, file, meta.size());
            return Checksums.hex(d.digest()).equals(meta.etag());
        }
    }

    /** How a file's Hub ETag is checked: sha256 of the content (LFS) or git's blob sha1 (plain files). */
    private record Checksum(String name, boolean gitBlob) {
        static Checksum of(HubClient.FileMeta meta) {
            if (meta.lfs() && Checksums.isHex(meta.etag(), 64)) return new Checksum("sha256", false);
            if (!meta.lfs() && Checksums.isHex(meta.etag(), 40)) return new Checksum("git blob sha1", true);
            return null;
        }

        MessageDigest newDigest(long size) {
            return gitBlob ? Checksums.gitBlobSha1(size) : Checksums.sha256();
        }
    }

    /** A failure worth retrying from where the partial file ends. */
    private static final class TransientFailure extends IOException {
        TransientFailure(String message) {
            super(message);
        }
    }

    private static Path partialOf(Path target) {
        return target.resolveSibling(target.getFileName() + ".incomplete");
    }

    private static long partialSize(Path partial) {
        try {
            return Files.isRegularFile(partial) ? Files.size(partial) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static boolean hasSize(Path file, long size) {
        try {
            return Files.isRegularFile(file) && Files.size(file) == size;
        } catch (IOException e) {
            return false;
        }
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / 1e6);
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MoiceException("interrupted", e);
        }
    }
}
