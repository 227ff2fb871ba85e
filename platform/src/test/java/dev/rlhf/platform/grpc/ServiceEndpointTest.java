package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ServiceEndpointTest {

    @ParameterizedTest
    @CsvSource({
        "localhost:50051, localhost, 50051",
        "' reward-service:9000 ', reward-service, 9000",
        "10.0.0.7:1, 10.0.0.7, 1",
        "[::1]:65535, ::1, 65535",
    })
    void parsesHostAndPort(String text, String host, int port) {
        assertEquals(new ServiceEndpoint(host, port), ServiceEndpoint.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "localhost", "localhost:", ":50051", "localhost:http", "localhost:0",
        "localhost:70000", "::1:50051"})
    void refusesMalformedAddressesNamingTheText(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServiceEndpoint.parse(text));
        assertTrue(text.isEmpty() || e.getMessage().contains(text), e.getMessage());
    }

    @Test
    void printsIpv6InBrackets() {
        assertEquals("[::1]:50051", ServiceEndpoint.parse("[::1]:50051").toString());
    }
}
