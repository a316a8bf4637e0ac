// Events about objects of a namespace being deleted: the API server refuses them (403 from the
// NamespaceLifecycle admission plugin); the recorder drops them as client-go's does, and counts
// every other refusal as a failure.
import { describe, expect, it } from 'vitest';
import { namespaceTerminating } from '../../../src/agent/events.ts';
import { KubeApiError } from '../../../src/sources/kube.ts';

const path = '/apis/events.k8s.io/v1/namespaces/l2-a227a4/events';
describe('namespaceTerminating', () => {
  it('is the 403 the API server gives for new objects in a terminating namespace', () => {
    const msg = 'events.events.k8s.io "local-only-a.18ef005a80cb9703" is forbidden: unable to create new content in namespace l2-a227a4 because it is being terminated';
    expect(namespaceTerminating(new KubeApiError('POST', path, 403, { message: msg }))).toBe(true);
  });
  it('is not an RBAC refusal, another status or another error', () => {
    const rbac = 'events.events.k8s.io is forbidden: User "system:serviceaccount:kube-system:ipvsnet" cannot create resource "events" in API group "events.k8s.io"';
    expect(namespaceTerminating(new KubeApiError('POST', path, 403, { message: rbac }))).toBe(false);
    expect(namespaceTerminating(new KubeApiError('POST', path, 409, { message: 'because it is being terminated' }))).toBe(false);
    expect(namespaceTerminating(new Error('because it is being terminated'))).toBe(false);
  });
});
