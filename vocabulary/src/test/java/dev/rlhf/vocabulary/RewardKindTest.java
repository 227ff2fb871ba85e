package dev.rlhf.vocabulary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class RewardKindTest {
    @Test
    void namesParseCaseInsensitivelyAndUnknownNamesAreRefusedWithTheChoices() {
        assertEquals(RewardKind.SAFETY, RewardKind.parse(" Safety "));
        assertEquals(Optional.of(RewardKind.HELPFULNESS), RewardKind.find("HELPFULNESS"));
        assertEquals(Optional.empty(), RewardKind.find("harmlessness"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RewardKind.parse("x"));
        assertTrue(e.getMessage().contains("helpfulness or safety"), e.getMessage());
        assertEquals("helpfulness", RewardKind.HELPFULNESS.key());
    }
}
