package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.Container;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A container that runs one of our programs (image {@code rlhf/<program>}), with its workload: what most checks walk
 * over. Callers choose whether init containers count, see {@link Workload.Containers}.
 */
record ServiceContainer(Workload workload, Container container, String program) {

    /** Any of our programs, whichever it is. */
    static final Predicate<String> ANY_PROGRAM = program -> true;

    String where() {
        return workload.where(container);
    }

    /** The containers of one workload whose program passes {@code programs}, in pod order. */
    static List<ServiceContainer> of(Workload w, Workload.Containers which, Predicate<String> programs) {
        List<ServiceContainer> out = new ArrayList<>();
        for (Container c : w.containers(which)) {
            Workload.program(c).filter(programs)
                    .ifPresent(program -> out.add(new ServiceContainer(w, c, program)));
        }
        return out;
    }

    /** As {@link #of(Workload, Workload.Containers, Predicate)}, over every workload of a render. */
    static List<ServiceContainer> of(Rendered r, Workload.Containers which, Predicate<String> programs) {
        return r.workloads().stream().flatMap(w -> of(w, which, programs).stream()).toList();
    }
}
