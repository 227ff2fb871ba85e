package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.assertFlags;
import static dev.rlhf.k8s.Sources.assertNone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The model store binds on the clouds (issue 17, item 2): a ReadWriteMany claim names the class one storage
 * component provides (the clouds' default classes are ReadWriteOnce, and such a claim stays Pending without saying
 * why), each component provides exactly that class on its platform's CSI driver, and says how the share becomes
 * writable by the services' uid 10001.
 */
class StorageTest {
    static final String CLASS = "rlhf-models";
    static final Map<String, String> PROVISIONERS = Map.of("storage-efs", "efs.csi.aws.com",
            "storage-filestore", "filestore.csi.storage.gke.io", "storage-azurefile", "file.csi.azure.com",
            "storage-nfs", "nfs.csi.k8s.io");

    /** Every ReadWriteMany claim names {@link #CLASS}; a claim without a class is flagged. */
    static List<String> claims(Rendered r) {
        List<String> problems = new ArrayList<>();
        for (PersistentVolumeClaim pvc : r.all(PersistentVolumeClaim.class)) {
            String name = pvc.getMetadata().getName();
            String sc = pvc.getSpec().getStorageClassName();
            if (pvc.getSpec().getAccessModes().contains("ReadWriteMany") && !CLASS.equals(sc)) {
                problems.add("PersistentVolumeClaim " + name + ": ReadWriteMany with storage class " + sc
                        + ", not " + CLASS + " from a components/storage-* (a default class is ReadWriteOnce)");
            }
        }
        return problems;
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void everyReadWriteManyClaimNamesTheComponentsClass(String variant) {
        assertNone(claims(Variants.get(variant)));
    }

    @Test
    void aClaimWithoutAClassIsFlaggedAndTheLocalOverlayUsesTheDefaultOne() {
        Rendered base = Variants.get("base").copy();
        base.all(PersistentVolumeClaim.class).get(0).getSpec().setStorageClassName(null);
        assertFlags(claims(base), "ReadWriteMany with storage class null");
        assertEquals("standard", Variants.get("local").all(PersistentVolumeClaim.class).get(0).getSpec()
                .getStorageClassName());
    }

    @Test
    void eachStorageComponentProvidesTheClassOnItsDriverAndSaysHowUid10001Writes() throws Exception {
        for (Map.Entry<String, String> e : PROVISIONERS.entrySet()) {
            Path dir = Variants.MODULE.resolve("target/kustomize-variants/base-" + e.getKey());
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("kustomization.yaml"), Variants.componentVariant(e.getKey()));
            Rendered r = new Rendered("base+" + e.getKey(), Kustomize.render(dir));
            List<StorageClass> classes = r.all(StorageClass.class);
            assertEquals(1, classes.size(), e.getKey());
            StorageClass sc = classes.get(0);
            assertEquals(CLASS, sc.getMetadata().getName(), e.getKey());
            assertEquals(e.getValue(), sc.getProvisioner(), e.getKey());
            assertEquals("Retain", sc.getReclaimPolicy(), e.getKey() + ": models must survive a deleted claim");
            assertNone(claims(r));
            String yaml = Files.readString(Variants.MODULE.resolve("components/" + e.getKey() + "/storage-class.yaml"));
            assertTrue(yaml.contains("10001"), e.getKey() + " says how uid 10001 can write the share");
        }
        Map<String, String> efs = sc("storage-efs").getParameters();
        assertEquals("10001", efs.get("uid"));
        assertEquals("10001", efs.get("gid"));
        assertTrue(sc("storage-azurefile").getMountOptions().containsAll(List.of("uid=10001", "gid=10001")));
    }

    private static StorageClass sc(String component) throws Exception {
        return new Rendered(component, Files.readString(Variants.MODULE.resolve("components/" + component
                + "/storage-class.yaml"))).all(StorageClass.class).get(0);
    }
}
