/**
 * The k8s/ manifests deploy the distributed mode as it must run: kustomize sees every file; each
 * Deployment owns its pods and runs the app its npm script starts, with an environment (ConfigMap,
 * Secret, env) the app accepts; probes and scrape annotations hit routes the app serves, on the port
 * it listens on; Services, disruption budgets and autoscalers reach the workloads they name, never
 * block a drain nor fight each other; the runtime scales on its own consumer groups' lag, never past
 * the partitions; pods run unprivileged.
 */
import { kafkaConsumerGroups, kafkaTopics } from '@meridian/infrastructure/kafka/kafka-topics';
import type { MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { DISTRIBUTED_APPS, getRoutes, startScript, type DistributedApp } from './support/app-entries';
import { checkAppEnv, isCredential } from './support/deploy-env';
import { containerArgv, loadImage, startScriptMismatch } from './support/image';
import {
  containerEnv,
  containerPort,
  loadManifests,
  manifestFiles,
  ofKind,
  quantity,
  selectedDeployments,
  selects,
  type ConfigMap,
  type Container,
  type Deployment,
  type HorizontalPodAutoscaler,
  type K8sObject,
  type PodDisruptionBudget,
  type ScaledObject,
  type Service,
} from './support/k8s';

// Reads and parses the repository's sources (TypeScript) and manifests: seconds on a busy machine.
jest.setTimeout(30_000);

const manifests = loadManifests();
const image = loadImage();
const deployments = ofKind<Deployment>(manifests, 'Deployment');
const hpas = ofKind<HorizontalPodAutoscaler>(manifests, 'HorizontalPodAutoscaler');
const scaledObjects = ofKind<ScaledObject>(manifests, 'ScaledObject');
const COMPONENT = 'app.kubernetes.io/component';

/** The Deployment of an app (labelled with its component) and its one container. */
function workload(app: DistributedApp): { deployment: Deployment; container: Container } {
  const matching = deployments.filter((d) => d.spec.template.metadata.labels?.[COMPONENT] === app);
  if (matching.length !== 1) throw new Error(`expected one Deployment with ${COMPONENT}=${app}, found ${matching.length}`);
  const deployment = matching[0];
  const containers = deployment.spec.template.spec.containers;
  if (containers.length !== 1) throw new Error(`${deployment.metadata.name}: expected one container, found ${containers.length}`);
  return { deployment, container: containers[0] };
}

function podEnv(container: Container): Record<string, string> {
  return containerEnv(manifests, container, image.env);
}

function appConfig(app: DistributedApp): MeridianConfig {
  const { config, problems } = checkAppEnv(podEnv(workload(app).container));
  if (!config || problems.length > 0) throw new Error(`${app}: ${problems.join('; ')}`);
  return config;
}

function autoscalersOf(deployment: Deployment): (HorizontalPodAutoscaler | ScaledObject)[] {
  return [...hpas, ...scaledObjects].filter((a) => (a.spec.scaleTargetRef.kind ?? 'Deployment') === 'Deployment' && a.spec.scaleTargetRef.name === deployment.metadata.name);
}

/** The fewest replicas a Deployment runs: its own count, or its autoscaler's minimum. */
function minimumReplicas(deployment: Deployment): number {
  const [autoscaler] = autoscalersOf(deployment);
  if (autoscaler?.kind === 'HorizontalPodAutoscaler') return (autoscaler as HorizontalPodAutoscaler).spec.minReplicas ?? 1;
  if (autoscaler?.kind === 'ScaledObject') return (autoscaler as ScaledObject).spec.minReplicaCount ?? 0;
  return deployment.spec.replicas ?? 1;
}

/** How many pods of `replicas` a budget lets a drain evict at once (Kubernetes rounds percentages up). */
function allowedDisruptions(pdb: PodDisruptionBudget, replicas: number): number {
  const count = (value: number | string): number => (typeof value === 'string' && value.endsWith('%') ? Math.ceil((replicas * Number(value.slice(0, -1))) / 100) : Number(value));
  if (pdb.spec.maxUnavailable !== undefined) return count(pdb.spec.maxUnavailable);
  if (pdb.spec.minAvailable !== undefined) return replicas - count(pdb.spec.minAvailable);
  return replicas;
}

describe('k8s/ manifests', () => {
  it('lists every manifest file of k8s/ in kustomization.yaml, and only files that exist', () => {
    expect([...(manifests.kustomization.resources ?? [])].sort()).toEqual(manifestFiles());
  });

  it('are named Kubernetes objects, unique per kind, in the namespace the kustomization declares', () => {
    const namespace = manifests.kustomization.namespace;
    expect(ofKind<K8sObject>(manifests, 'Namespace').map((n) => n.metadata.name)).toEqual([namespace]);
    const keys = manifests.objects.map((o) => `${o.kind}/${o.metadata?.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const object of manifests.objects) {
      expect({ object: `${object.file}: ${object.kind}`, apiVersion: typeof object.apiVersion, name: typeof object.metadata?.name }).toEqual({
        object: `${object.file}: ${object.kind}`,
        apiVersion: 'string',
        name: 'string',
      });
      // kustomize overrides a namespace written in a file; a different one would mislead readers.
      if (object.metadata.namespace !== undefined) expect(object.metadata.namespace).toBe(namespace);
    }
  });

  it("gives each app one Deployment whose selector selects its own pods and no other Deployment's", () => {
    for (const app of DISTRIBUTED_APPS) workload(app);
    for (const deployment of deployments) {
      expect(Object.keys(deployment.spec.selector.matchLabels ?? {}).length).toBeGreaterThan(0);
      expect(selectedDeployments(manifests, deployment.spec.selector.matchLabels).map((d) => d.metadata.name)).toEqual([deployment.metadata.name]);
    }
  });

  it.each(DISTRIBUTED_APPS)('runs the %s as its npm start script does, compiled', (app) => {
    const { container } = workload(app);
    expect(startScriptMismatch(image, containerArgv(image, { entrypoint: container.command, cmd: container.args }), app)).toEqual([]);
  });

  it('runs the three apps from one image, the one the kustomization points at a registry', () => {
    const images = new Set(DISTRIBUTED_APPS.map((app) => workload(app).container.image));
    expect(images.size).toBe(1);
    const [name] = [...images];
    expect(manifests.kustomization.images?.find((i) => i.name === name)?.newName).toEqual(expect.any(String));
  });

  it.each(DISTRIBUTED_APPS)('gives the %s an environment (image, ConfigMap, Secret, env) it accepts', (app) => {
    expect(checkAppEnv(podEnv(workload(app).container)).problems).toEqual([]);
  });

  it('keeps credentials out of ConfigMaps and manifests: they come from the Secret', () => {
    const exposed: string[] = [];
    for (const configMap of ofKind<ConfigMap>(manifests, 'ConfigMap')) {
      for (const [name, value] of Object.entries(configMap.data ?? {})) if (isCredential(name, value)) exposed.push(`${configMap.metadata.name}: ${name}`);
    }
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        for (const variable of container.env ?? []) if (variable.value !== undefined && isCredential(variable.name, variable.value)) exposed.push(`${deployment.metadata.name}: ${variable.name}`);
      }
    }
    expect(exposed).toEqual([]);
  });

  it.each(DISTRIBUTED_APPS)("probes the %s's liveness and readiness routes, on the port it listens on", (app) => {
    const { container } = workload(app);
    const port = Number(podEnv(container).PORT);
    const routes = getRoutes(startScript(app).entry);
    const probes = { startup: container.startupProbe, liveness: container.livenessProbe, readiness: container.readinessProbe };
    expect(probes.liveness?.httpGet).toBeDefined();
    expect(probes.readiness?.httpGet).toBeDefined();
    // Readiness checks the databases and Kafka; a liveness probe on it would restart every pod
    // during an outage of any of them.
    expect(probes.liveness?.httpGet?.path).toBe('/health/live');
    expect(probes.readiness?.httpGet?.path).toBe('/health/ready');
    for (const [kind, probe] of Object.entries(probes)) {
      if (!probe?.httpGet) continue;
      expect({ kind, served: routes.has(probe.httpGet.path ?? '/'), port: containerPort(container, probe.httpGet.port) }).toEqual({ kind, served: true, port });
    }
    expect(container.ports?.map((p) => p.containerPort)).toContain(port);
  });

  it.each(DISTRIBUTED_APPS)("announces the %s's metrics to Prometheus on its port and route", (app) => {
    const { deployment, container } = workload(app);
    const annotations = deployment.spec.template.metadata.annotations ?? {};
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(podEnv(container).PORT);
    expect(getRoutes(startScript(app).entry).has(annotations['prometheus.io/path'] ?? '/metrics')).toBe(true);
  });

  it("reaches each app through a Service that selects only its pods, on a port its container declares", () => {
    const services = ofKind<Service>(manifests, 'Service');
    for (const service of services) {
      const selected = selectedDeployments(manifests, service.spec.selector);
      expect({ service: service.metadata.name, selects: selected.length }).toEqual({ service: service.metadata.name, selects: 1 });
      const [container] = selected[0]?.spec.template.spec.containers ?? [];
      for (const port of service.spec.ports) {
        const target = containerPort(container, port.targetPort ?? port.port);
        expect({ service: service.metadata.name, declared: container.ports?.some((p) => p.containerPort === target) }).toEqual({ service: service.metadata.name, declared: true });
      }
    }
    for (const app of DISTRIBUTED_APPS) {
      const { deployment } = workload(app);
      expect({ app, services: services.filter((s) => selects(s.spec.selector, deployment.spec.template.metadata.labels)).length }).toEqual({ app, services: 1 });
    }
  });

  it('points every autoscaler at an existing Deployment, and no Deployment at two (they would fight)', () => {
    for (const autoscaler of [...hpas, ...scaledObjects]) {
      const target = autoscaler.spec.scaleTargetRef;
      expect({ autoscaler: autoscaler.metadata.name, kind: target.kind ?? 'Deployment', exists: deployments.some((d) => d.metadata.name === target.name) }).toEqual({
        autoscaler: autoscaler.metadata.name,
        kind: 'Deployment',
        exists: true,
      });
    }
    for (const deployment of deployments) expect({ deployment: deployment.metadata.name, autoscalers: autoscalersOf(deployment).length <= 1 }).toEqual({ deployment: deployment.metadata.name, autoscalers: true });
    expect(autoscalersOf(workload('gateway').deployment).map((a) => a.kind)).toEqual(['HorizontalPodAutoscaler']);
    expect(autoscalersOf(workload('runtime').deployment).map((a) => a.kind)).toEqual(['ScaledObject']);
  });

  it('autoscales on CPU only workloads whose containers request CPU (utilisation is relative to the request)', () => {
    for (const hpa of hpas) {
      expect(hpa.spec.minReplicas ?? 1).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      if (!(hpa.spec.metrics ?? []).some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')) continue;
      const target = deployments.find((d) => d.metadata.name === hpa.spec.scaleTargetRef.name);
      for (const container of target?.spec.template.spec.containers ?? []) expect({ container: container.name, cpu: container.resources?.requests?.cpu }).toEqual({ container: container.name, cpu: expect.any(String) });
    }
  });

  it('sets CPU and memory requests and limits on every container, each request within its limit', () => {
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        for (const resource of ['cpu', 'memory']) {
          const request = container.resources?.requests?.[resource];
          const limit = container.resources?.limits?.[resource];
          expect({ container: container.name, resource, request: typeof request, limit: typeof limit }).toEqual({ container: container.name, resource, request: 'string', limit: 'string' });
          if (request !== undefined && limit !== undefined) expect(quantity(request)).toBeLessThanOrEqual(quantity(limit));
        }
      }
    }
  });

  it('keeps two gateways and two runtimes at least, and lets a node drain evict every app', () => {
    expect(minimumReplicas(workload('gateway').deployment)).toBeGreaterThanOrEqual(2);
    expect(minimumReplicas(workload('runtime').deployment)).toBeGreaterThanOrEqual(2);
    for (const app of DISTRIBUTED_APPS) {
      const { deployment } = workload(app);
      const budgets = ofKind<PodDisruptionBudget>(manifests, 'PodDisruptionBudget').filter((pdb) => selects(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels));
      expect({ app, budgets: budgets.length }).toEqual({ app, budgets: 1 });
      for (const pdb of budgets) {
        expect(selectedDeployments(manifests, pdb.spec.selector.matchLabels).map((d) => d.metadata.name)).toEqual([deployment.metadata.name]);
        expect({ app, evictable: allowedDisruptions(pdb, minimumReplicas(deployment)) >= 1 }).toEqual({ app, evictable: true });
      }
    }
  });

  it("scales the runtime on its own consumer groups' lag, with the brokers it uses, never past the partitions", () => {
    const { deployment, container } = workload('runtime');
    const config = appConfig('runtime');
    if (config.kafka === null) throw new Error('runtime: no Kafka configuration');
    const topics = kafkaTopics(config.kafka.topicPrefix);
    const groups = kafkaConsumerGroups(config.kafka.topicPrefix);
    const consumed: Record<string, { group: string; partitions: number }> = {
      [topics.mailbox]: { group: groups.runtimeMailbox, partitions: config.kafka.partitions.mailbox },
      [topics.inbound]: { group: groups.runtimeInbound, partitions: config.kafka.partitions.inbound },
    };
    const [scaler] = autoscalersOf(deployment) as ScaledObject[];
    const triggers = scaler.spec.triggers.filter((t) => t.type === 'kafka');
    expect(triggers.map((t) => t.metadata.topic)).toContain(topics.mailbox);
    // KEDA reads *FromEnv values from the target's container (envSourceContainerName, else the first).
    const envSource = scaler.spec.scaleTargetRef.envSourceContainerName ?? deployment.spec.template.spec.containers[0].name;
    expect(envSource).toBe(container.name);
    for (const trigger of triggers) {
      const { topic, consumerGroup, bootstrapServers, bootstrapServersFromEnv, allowIdleConsumers, version } = trigger.metadata;
      expect({ topic, consumerGroup }).toEqual({ topic, consumerGroup: consumed[topic]?.group });
      expect(scaler.spec.maxReplicaCount ?? 100).toBeLessThanOrEqual(consumed[topic]?.partitions ?? 0);
      expect(allowIdleConsumers ?? 'false').toBe('false');
      const brokers = bootstrapServersFromEnv !== undefined ? podEnv(container)[bootstrapServersFromEnv] : bootstrapServers;
      expect(brokers?.split(',')).toEqual(config.kafka.brokers);
      // Kafka 4 dropped the protocol versions older than 2.1, which KEDA's default (1.0.0) speaks.
      const [major, minor] = (version ?? '1.0.0').split('.').map(Number);
      expect(major > 2 || (major === 2 && minor >= 1)).toBe(true);
    }
  });

  it('runs every container unprivileged, as a non-root UID, on a read-only root filesystem with a writable /tmp', () => {
    const imageUid = /^[0-9]+/.exec(image.user ?? '')?.[0];
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec;
      for (const container of pod.containers) {
        const context = { ...pod.securityContext, ...container.securityContext };
        const uid = context.runAsUser ?? (imageUid === undefined ? undefined : Number(imageUid));
        expect({ container: container.name, runAsNonRoot: context.runAsNonRoot, uidNonRoot: uid !== undefined && uid > 0 }).toEqual({ container: container.name, runAsNonRoot: true, uidNonRoot: true });
        expect({ container: container.name, escalation: context.allowPrivilegeEscalation, privileged: context.privileged ?? false, dropsAll: context.capabilities?.drop?.includes('ALL') }).toEqual({
          container: container.name,
          escalation: false,
          privileged: false,
          dropsAll: true,
        });
        expect({ container: container.name, readOnlyRootFilesystem: context.readOnlyRootFilesystem }).toEqual({ container: container.name, readOnlyRootFilesystem: true });
        const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
        const volume = pod.volumes?.find((v) => v.name === tmp?.name);
        expect({ container: container.name, writableTmp: volume?.emptyDir !== undefined }).toEqual({ container: container.name, writableTmp: true });
      }
    }
  });
});
