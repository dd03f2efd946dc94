package dev.herd.engine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StopFilterTest {
    @Test
    void holdsBackWhatCouldStartAStopStringAndCutsAtIt() {
        StopFilter f = new StopFilter(List.of("END", "\n\n"));
        assertThat(f.push("Hello E")).isEqualTo("Hello ");
        assertThat(f.push("x")).isEqualTo("Ex");
        assertThat(f.push(" and E")).isEqualTo(" and ");
        assertThat(f.push("NDing")).isEmpty();
        assertThat(f.stopped()).isTrue();
        assertThat(f.push("more")).isEmpty();
        assertThat(f.flush()).isEmpty();
    }

    @Test
    void earliestStopWinsAndUnfinishedPrefixIsFlushedAtTheEnd() {
        StopFilter f = new StopFilter(List.of("cd", "b"));
        assertThat(f.push("abcd")).isEqualTo("a");
        StopFilter g = new StopFilter(List.of("xyz"));
        assertThat(g.push("axy")).isEqualTo("a");
        assertThat(g.flush()).isEqualTo("xy");
        assertThat(new StopFilter(List.of()).push("free")).isEqualTo("free");
    }
}
