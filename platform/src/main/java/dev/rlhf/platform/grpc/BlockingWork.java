package dev.rlhf.platform.grpc;

/** Blocking model work (generation, scoring) that may poll its call's cancellation. */
@FunctionalInterface
public interface BlockingWork<T> {

    T run(Cancellation cancellation) throws Exception;
}
