package moice.io.download;

import moice.MoiceException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Makes downloaded files appear whole or not at all: fsync the temporary, rename it over the target. */
final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Flushes {@code file}'s content to the device. */
    static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Renames the (already fsynced) {@code temp} to {@code target}, replacing it, then syncs the folder entry. */
    static void moveIntoPlace(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            // The temporary always sits beside the target, so this only happens on odd file systems.
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        syncDirectory(target.toAbsolutePath().getParent());
    }

    /** Writes {@code text} to {@code target} through an fsynced temporary in the same folder. */
    static void writeString(Path target, String text) throws IOException {
        Path temp = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(temp, text, StandardCharsets.UTF_8);
        fsync(temp);
        moveIntoPlace(temp, target);
    }

    /**
     * Takes an exclusive lock on {@code lockFile} for the life of the returned channel, so two pulls of the same
     * model do not write the same partial files; fails at once when another process holds it.
     */
    static FileChannel lock(Path lockFile, String what) {
        try {
            Files.createDirectories(lockFile.getParent());
            FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                ch.close();
                throw new MoiceException(what + ": another pull is writing " + lockFile.getParent()
                        + " (lock " + lockFile + "); wait for it to finish");
            }
            return ch;
        } catch (IOException e) {
            throw new MoiceException(lockFile + ": cannot create lock file: " + e.getMessage(), e);
        }
    }

    private static void syncDirectory(Path dir) {
        // Linux lets a folder be opened and forced so the rename itself is durable; elsewhere this is best effort.
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not supported on this platform
        }
    }
}
