package moice.io;

import moice.MoiceException;

import java.nio.file.Path;
import java.util.List;

/** Token-id files: a JSON array of non-negative integers (the {@code --tokens} input of forward and grad). */
public final class TokenIds {
    private TokenIds() {}

    /** Reads the ids; an error names the file and the offending element. */
    public static int[] read(Path file) {
        List<Object> list = Json.array(Json.parseFile(file), file.toString());
        if (list.isEmpty()) throw new MoiceException(file + ": the token array is empty");
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            long v = Json.integer(list.get(i), file + ": element " + i);
            if (v < 0 || v > Integer.MAX_VALUE)
                throw new MoiceException(file + ": element " + i + " (" + v + ") is not a token id");
            ids[i] = (int) v;
        }
        return ids;
    }
}
