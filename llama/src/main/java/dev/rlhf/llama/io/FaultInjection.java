package dev.rlhf.llama.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Crash-test hook, inert unless the system property {@code rlhf.fault.pause-before-rename=MARKER[@N]} is set:
 * then the N-th (default first) atomic directory write of the process writes MARKER and blocks just before its
 * final rename, so a test can SIGKILL the process with a complete temp directory on disk and check that it is
 * never loaded.
 */
final class FaultInjection {
    static final String PAUSE_BEFORE_RENAME = "rlhf.fault.pause-before-rename";
    private static final AtomicInteger RENAMES = new AtomicInteger();

    private FaultInjection() {}

    static void beforeRename(Path temp, Path target) throws IOException {
        String spec = System.getProperty(PAUSE_BEFORE_RENAME);
        if (spec == null || spec.isEmpty()) {
            return;
        }
        int at = spec.lastIndexOf('@');
        Path marker = Path.of(at < 0 ? spec : spec.substring(0, at));
        int nth = at < 0 ? 1 : Integer.parseInt(spec.substring(at + 1));
        if (RENAMES.incrementAndGet() != nth) {
            return;
        }
        Files.writeString(marker, temp + " -> " + target + "\n", StandardCharsets.UTF_8);
        while (true) { // until the test kills the process
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                // keep blocking: the point is that the rename never happens
            }
        }
    }
}
