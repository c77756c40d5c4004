/**
 * A Prefect repository with work-pool base job templates, for the work-pool scanner's tests: a
 * Kubernetes pool whose template defaults the request variables and hard-codes a CPU limit (and sizes a
 * sidecar of its own), an ECS pool in the API's `{name, base_job_template}` shape, and a prefect.yaml
 * whose deployments inherit those defaults or set their own. Tests only.
 */
import type { AnalysisDocument } from "../common/analysis-document.js";
import { analysisTask } from "./source-fixtures.js";

const GiB = 1024 ** 3;

export const workPoolFiles: Record<string, string> = {
  "work-pools/k8s-pool.json": `{
  "job_configuration": {
    "command": "{{ command }}",
    "env": "{{ env }}",
    "namespace": "{{ namespace }}",
    "job_manifest": {
      "apiVersion": "batch/v1",
      "kind": "Job",
      "metadata": { "namespace": "{{ namespace }}", "generateName": "{{ name }}-" },
      "spec": {
        "template": {
          "spec": {
            "restartPolicy": "Never",
            "containers": [
              {
                "name": "prefect-job",
                "image": "{{ image }}",
                "args": "{{ command }}",
                "resources": {
                  "requests": { "cpu": "{{ cpu_request }}", "memory": "{{ memory_request }}" },
                  "limits": { "cpu": "2", "memory": "{{ memory_limit }}" }
                }
              },
              {
                "name": "log-shipper",
                "image": "fluent-bit:3",
                "resources": { "requests": { "cpu": "50m", "memory": "64Mi" } }
              }
            ]
          }
        }
      }
    }
  },
  "variables": {
    "type": "object",
    "properties": {
      "image": { "type": "string", "default": "prefecthq/prefect:3-latest" },
      "cpu_request": { "title": "CPU Request", "type": "string", "default": "1000m" },
      "memory_request": { "title": "Memory Request", "type": "string", "default": "2Gi" },
      "memory_limit": { "title": "Memory Limit", "type": "string", "default": "4Gi" }
    }
  }
}
`,
  "work-pools/ecs.json": `{
    "name": "ecs-pool",
    "type": "ecs",
    "base_job_template": {
        "job_configuration": {
            "task_definition": {
                "containerDefinitions": [{ "image": "{{ image }}", "name": "prefect" }],
                "cpu": "{{ cpu }}",
                "memory": "{{ memory }}"
            },
            "task_run_request": {
                "launchType": "FARGATE",
                "overrides": { "cpu": "{{ cpu }}", "memory": "{{ memory }}" }
            }
        },
        "variables": {
            "properties": {
                "memory": { "type": "integer", "default": 8192 },
                "cpu": { "type": "integer", "default": 2048 }
            }
        }
    }
}
`,
  // JSON that is no template: left alone.
  "package.json": `{ "name": "flows", "private": true }
`,
  "prefect.yaml": `name: flows
prefect-version: 3.1.0

deployments:
  - name: nightly
    entrypoint: flows/etl.py:nightly_etl
    work_pool:
      name: k8s-pool
  - name: hourly
    entrypoint: flows/sync.py:hourly_sync
    work_pool:
      name: k8s-pool
      job_variables:
        cpu_request: "250m"
  - name: export
    entrypoint: flows/export.py:export
    work_pool:
      name: ecs-pool
  - name: elsewhere
    entrypoint: flows/other.py:other
    work_pool:
      name: shared-pool
`,
};

/** Recommendations for the work-pool repository's deployments. */
export function workPoolAnalysis(): AnalysisDocument {
  const flow = (pipeline: string, cpuCores: number, memoryBytes: number) =>
    analysisTask({ orchestrator: "prefect", pipeline, task: "__flow__", cpuCores, memoryBytes });
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      flow("nightly-etl/nightly", 0.5, 1.5 * GiB),
      flow("hourly-sync/hourly", 0.2, GiB),
      flow("export/export", 0.4, 1.5 * GiB),
      flow("other/elsewhere", 1, GiB),
    ],
  };
}

/** The exact `rightsize.patch` for the work-pool repository and its analysis. */
export const workPoolExpectedPatch = `# prefect.yaml:14 hourly-sync/hourly: cpu request "250m" -> "200m"
# work-pools/ecs.json:18 export/export: memory request 8192 -> 2048
# work-pools/ecs.json:19 export/export: cpu request 2048 -> 512
# work-pools/k8s-pool.json:39 nightly-etl/nightly: cpu request "1000m" -> "500m"
# work-pools/k8s-pool.json:40 nightly-etl/nightly: memory request "2Gi" -> "1536Mi"
# work-pools/k8s-pool.json:40 hourly-sync/hourly: memory request "2Gi" -> "1Gi" (per-task override)
# override for hourly-sync/hourly in prefect.yaml: memory request at work-pools/k8s-pool.json:40 is shared by tasks that need different values (nightly-etl/nightly: 1.5 GiB (1536Mi); hourly-sync/hourly: 1 GiB (1Gi))
diff --git a/prefect.yaml b/prefect.yaml
--- a/prefect.yaml
+++ b/prefect.yaml
@@ -11,7 +11,9 @@
     work_pool:
       name: k8s-pool
       job_variables:
-        cpu_request: "250m"
+        cpu_request: "200m"
+        # rightsize: per-deployment override, memory request at work-pools/k8s-pool.json:40 is shared by tasks that need different values (nightly-etl/nightly: 1.5 GiB (1536Mi); hourly-sync/hourly: 1 GiB (1Gi))
+        memory_request: "1Gi"
   - name: export
     entrypoint: flows/export.py:export
     work_pool:
diff --git a/work-pools/ecs.json b/work-pools/ecs.json
--- a/work-pools/ecs.json
+++ b/work-pools/ecs.json
@@ -15,8 +15,8 @@
         },
         "variables": {
             "properties": {
-                "memory": { "type": "integer", "default": 8192 },
-                "cpu": { "type": "integer", "default": 2048 }
+                "memory": { "type": "integer", "default": 2048 },
+                "cpu": { "type": "integer", "default": 512 }
             }
         }
     }
diff --git a/work-pools/k8s-pool.json b/work-pools/k8s-pool.json
--- a/work-pools/k8s-pool.json
+++ b/work-pools/k8s-pool.json
@@ -36,8 +36,8 @@
     "type": "object",
     "properties": {
       "image": { "type": "string", "default": "prefecthq/prefect:3-latest" },
-      "cpu_request": { "title": "CPU Request", "type": "string", "default": "1000m" },
-      "memory_request": { "title": "Memory Request", "type": "string", "default": "2Gi" },
+      "cpu_request": { "title": "CPU Request", "type": "string", "default": "500m" },
+      "memory_request": { "title": "Memory Request", "type": "string", "default": "1536Mi" },
       "memory_limit": { "title": "Memory Limit", "type": "string", "default": "4Gi" }
     }
   }
`;

/**
 * A Kubernetes pool whose template defaults `cpu` and `memory`, and deployments that inherit them: one
 * whose `work_pool` has no job variables, one with a flow mapping of them, one with a block mapping, and
 * two sharing their whole `work_pool` through an anchor (no override of their own can be written). A
 * second pool's template names `{{ memory }}` only in an environment variable and sizes the container
 * with a value of its own.
 */
export const poolOverrideFiles: Record<string, string> = {
  "flows/etl.py": "from prefect import flow\n\n\n@flow\ndef nightly():\n    pass\n",
  "pools/k8s.json": `{
  "job_configuration": {
    "job_manifest": {
      "spec": {"template": {"spec": {"containers": [
        {"image": "{{ image }}", "resources": {"requests": {"cpu": "{{ cpu }}", "memory": "{{ memory }}"}}}
      ]}}}
    }
  },
  "variables": {
    "properties": {
      "image": {"type": "string", "default": "prefecthq/prefect:3-latest"},
      "cpu": {"type": "string", "default": "1"},
      "memory": {"type": "string", "default": "4Gi"}
    }
  }
}
`,
  "pools/fixed.json": `{
  "job_configuration": {
    "env": {"PIPELINE_MEMORY": "{{ memory }}"},
    "job_manifest": {
      "spec": {"template": {"spec": {"containers": [
        {"image": "{{ image }}", "resources": {"requests": {"memory": "4Gi"}}}
      ]}}}
    }
  },
  "variables": {"properties": {"memory": {"type": "string"}}}
}
`,
  "prefect.yaml": `definitions:
  pools:
    shared: &shared
      name: k8s

deployments:
  - name: small
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: k8s
  - name: medium
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: k8s
      job_variables: {image: "etl:2"}
  - name: large
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: k8s
      job_variables:
        image: "etl:2" # pinned
  - name: first-shared
    entrypoint: flows/etl.py:nightly
    work_pool: *shared
  - name: second-shared
    entrypoint: flows/etl.py:nightly
    work_pool: *shared
  - name: env-only
    entrypoint: flows/etl.py:nightly
    work_pool:
      name: fixed
      job_variables:
        memory: 12Gi
`,
};

export function poolOverrideAnalysis(): AnalysisDocument {
  const deployment = (name: string, cpuCores: number, memoryBytes: number) =>
    analysisTask({
      orchestrator: "prefect",
      pipeline: `nightly/${name}`,
      task: "__flow__",
      cpuCores,
      memoryBytes,
    });
  return {
    generatedAt: "2026-11-20T02:00:00.000Z",
    windowDays: 14,
    tasks: [
      deployment("small", 0.25, GiB / 2),
      deployment("medium", 0.5, GiB),
      deployment("large", 2, 6 * GiB),
      deployment("first-shared", 1, 2 * GiB),
      deployment("second-shared", 0.75, 1.5 * GiB),
      deployment("env-only", 1, 10 * GiB),
    ],
  };
}
