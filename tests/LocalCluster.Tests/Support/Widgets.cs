using k8s;
using k8s.Models;

namespace Kube.Local.Tests.Support;

/// <summary>A sample CRD (widgets.example.com) with status, printer columns, defaults and validation.</summary>
public static class Widgets
{
    public const string Group = "example.com";
    public const string Version = "v1";
    public const string Plural = "widgets";

    public const string CrdYaml = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.com
        spec:
          group: example.com
          scope: Namespaced
          names:
            plural: widgets
            singular: widget
            kind: Widget
            shortNames: [wg]
          versions:
          - name: v1
            served: true
            storage: true
            subresources:
              status: {}
              scale:
                specReplicasPath: .spec.replicas
                statusReplicasPath: .status.replicas
            additionalPrinterColumns:
            - name: Size
              type: string
              jsonPath: .spec.size
            - name: Replicas
              type: integer
              jsonPath: .spec.replicas
            - name: Ready
              type: string
              jsonPath: .status.conditions[?(@.type=="Ready")].status
            - name: Age
              type: date
              jsonPath: .metadata.creationTimestamp
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      replicas:
                        type: integer
                        minimum: 0
                        default: 1
                      size:
                        type: string
                        enum: [small, large]
                      name:
                        type: string
                        maxLength: 10
                  status:
                    type: object
                    properties:
                      observedGeneration:
                        type: integer
                      replicas:
                        type: integer
                      conditions:
                        type: array
                        items:
                          type: object
                          required: [type, status]
                          properties:
                            type: {type: string}
                            status: {type: string}
                            reason: {type: string}
                            message: {type: string}
                            lastTransitionTime: {type: string, format: date-time}
        """;

    public static async Task InstallAsync(Kubernetes client)
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(CrdYaml);
        try
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
        }
        catch (k8s.Autorest.HttpOperationException e) when ((int)e.Response.StatusCode == 409)
        {
            // Installed by an earlier test of the same class.
        }
    }

    public static Dictionary<string, object> New(string name, string size = "small", long? replicas = null)
    {
        var spec = new Dictionary<string, object> { ["size"] = size };
        if (replicas is not null) spec["replicas"] = replicas;
        return new Dictionary<string, object>
        {
            ["apiVersion"] = "example.com/v1",
            ["kind"] = "Widget",
            ["metadata"] = new Dictionary<string, object> { ["name"] = name },
            ["spec"] = spec,
        };
    }
}
