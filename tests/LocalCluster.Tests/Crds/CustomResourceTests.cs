using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Crds;

/// <summary>CRDs: serving, status subresource, generation, structural defaulting, validation, printer columns.</summary>
public sealed class CustomResourceTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public CustomResourceTests(ClusterFixture f) => _f = f;

    private async Task<string> SetupAsync()
    {
        await Widgets.InstallAsync(_f.Client);
        return await _f.NamespaceAsync("cr");
    }

    private async Task<JsonObject> GetAsync(string ns, string name) =>
        JsonSerializer.SerializeToNode(await _f.Client.CustomObjects.GetNamespacedCustomObjectAsync(Widgets.Group, Widgets.Version, ns, Widgets.Plural, name))!.AsObject();

    private async Task<JsonObject> CreateAsync(string ns, object body) =>
        JsonSerializer.SerializeToNode(await _f.Client.CustomObjects.CreateNamespacedCustomObjectAsync(body, Widgets.Group, Widgets.Version, ns, Widgets.Plural))!.AsObject();

    private async Task<JsonObject> MergePatchAsync(string ns, string name, string patch, bool status = false)
    {
        var p = new V1Patch(patch, V1Patch.PatchType.MergePatch);
        var result = status
            ? await _f.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(p, Widgets.Group, Widgets.Version, ns, Widgets.Plural, name)
            : await _f.Client.CustomObjects.PatchNamespacedCustomObjectAsync(p, Widgets.Group, Widgets.Version, ns, Widgets.Plural, name);
        return JsonSerializer.SerializeToNode(result)!.AsObject();
    }

    [Fact]
    public async Task Applying_a_CRD_serves_its_resource_and_reports_Established()
    {
        await SetupAsync();
        var crd = await _f.Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("widgets.example.com");
        Assert.Contains(crd.Status.Conditions, c => c.Type == "Established" && c.Status == "True");
        Assert.Contains(crd.Status.Conditions, c => c.Type == "NamesAccepted" && c.Status == "True");
        var (code, doc) = await _f.SendAsync(HttpMethod.Get, "/apis/example.com/v1");
        Assert.Equal(200, code);
        Assert.Contains(doc!["resources"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "widgets");
        Assert.Contains(doc!["resources"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "widgets/status");
    }

    [Fact]
    public async Task Structural_defaults_are_applied_on_create()
    {
        var ns = await SetupAsync();
        var created = await CreateAsync(ns, Widgets.New("defaulted"));
        Assert.Equal(1, created["spec"]!["replicas"]!.GetValue<int>());
    }

    [Fact]
    public async Task Validation_rejects_with_422_naming_each_field()
    {
        var ns = await SetupAsync();
        var status = await Errors.StatusAsync(() => CreateAsync(ns, Widgets.New("bad", size: "huge", replicas: -1)), (HttpStatusCode)422, "Invalid");
        var message = status["message"]!.GetValue<string>();
        Assert.StartsWith("Widget.example.com \"bad\" is invalid: ", message);
        Assert.Contains("spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0", message);
        Assert.Contains("spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\"", message);
        var fields = status["details"]!["causes"]!.AsArray().Select(c => c!["field"]!.GetValue<string>()).Order().ToArray();
        Assert.Equal(["spec.replicas", "spec.size"], fields);

        var missing = new Dictionary<string, object>
        {
            ["apiVersion"] = "example.com/v1", ["kind"] = "Widget", ["metadata"] = new Dictionary<string, object> { ["name"] = "nosize" }, ["spec"] = new Dictionary<string, object>(),
        };
        var required = await Errors.StatusAsync(() => CreateAsync(ns, missing), (HttpStatusCode)422, "Invalid");
        Assert.Contains("spec.size: Required value", required["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Unknown_fields_are_pruned_or_rejected_under_fieldValidation_Strict()
    {
        var ns = await SetupAsync();
        var body = """{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"extra"},"spec":{"size":"small","bogus":1}}""";
        var (code, created) = await _f.SendAsync(HttpMethod.Post, $"/apis/example.com/v1/namespaces/{ns}/widgets", body);
        Assert.Equal(201, code);
        Assert.Null(created!["spec"]!["bogus"]);
        var (strictCode, status) = await _f.SendAsync(HttpMethod.Post, $"/apis/example.com/v1/namespaces/{ns}/widgets?fieldValidation=Strict", body.Replace("extra", "strict"));
        Assert.Equal(400, strictCode);
        Assert.Equal("strict decoding error: unknown field \"spec.bogus\"", status!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Generation_is_bumped_by_spec_changes_only()
    {
        var ns = await SetupAsync();
        await CreateAsync(ns, Widgets.New("gen"));
        Assert.Equal(1, (await GetAsync(ns, "gen"))["metadata"]!["generation"]!.GetValue<long>());
        await MergePatchAsync(ns, "gen", """{"metadata":{"labels":{"a":"b"}}}""");
        Assert.Equal(1, (await GetAsync(ns, "gen"))["metadata"]!["generation"]!.GetValue<long>());
        await MergePatchAsync(ns, "gen", """{"status":{"observedGeneration":1}}""", status: true);
        Assert.Equal(1, (await GetAsync(ns, "gen"))["metadata"]!["generation"]!.GetValue<long>());
        await MergePatchAsync(ns, "gen", """{"spec":{"replicas":3}}""");
        Assert.Equal(2, (await GetAsync(ns, "gen"))["metadata"]!["generation"]!.GetValue<long>());
    }

    [Fact]
    public async Task Status_subresource_main_endpoint_ignores_status_and_status_endpoint_changes_only_status()
    {
        var ns = await SetupAsync();
        await CreateAsync(ns, Widgets.New("st"));
        var viaMain = await MergePatchAsync(ns, "st", """{"spec":{"replicas":2},"status":{"observedGeneration":9}}""");
        Assert.Equal(2, viaMain["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(viaMain["status"]);

        var viaStatus = await MergePatchAsync(ns, "st", """{"spec":{"replicas":7},"metadata":{"labels":{"x":"y"}},"status":{"observedGeneration":2}}""", status: true);
        Assert.Equal(2, viaStatus["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(viaStatus["metadata"]!["labels"]);
        Assert.Equal(2, viaStatus["status"]!["observedGeneration"]!.GetValue<int>());
    }

    [Fact]
    public async Task Status_is_validated_against_the_schema_too()
    {
        var ns = await SetupAsync();
        await CreateAsync(ns, Widgets.New("badstatus"));
        var status = await Errors.StatusAsync(() => MergePatchAsync(ns, "badstatus", """{"status":{"conditions":[{"type":"Ready"}]}}""", status: true), (HttpStatusCode)422, "Invalid");
        Assert.Contains("status.conditions[0].status: Required value", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_of_a_custom_resource_requires_a_resourceVersion()
    {
        var ns = await SetupAsync();
        await CreateAsync(ns, Widgets.New("norv"));
        var body = Widgets.New("norv", replicas: 4);
        var status = await Errors.StatusAsync(() => _f.Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(body, Widgets.Group, Widgets.Version, ns, Widgets.Plural, "norv"), (HttpStatusCode)422, "Invalid");
        Assert.Contains("metadata.resourceVersion: Invalid value: 0: must be specified for an update", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tables_use_the_CRD_printer_columns()
    {
        var ns = await SetupAsync();
        await CreateAsync(ns, Widgets.New("tbl", size: "large", replicas: 3));
        await MergePatchAsync(ns, "tbl", """{"status":{"conditions":[{"type":"Ready","status":"True"}]}}""", status: true);
        var (code, table) = await _f.SendAsync(HttpMethod.Get, $"/apis/example.com/v1/namespaces/{ns}/widgets",
            accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
        Assert.Equal(200, code);
        Assert.Equal("Table", table!["kind"]!.GetValue<string>());
        Assert.Equal(["Name", "Size", "Replicas", "Ready", "Age"], table["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        var cells = table["rows"]![0]!["cells"]!.AsArray();
        Assert.Equal("tbl", cells[0]!.GetValue<string>());
        Assert.Equal("large", cells[1]!.GetValue<string>());
        Assert.Equal(3, cells[2]!.GetValue<int>());
        Assert.Equal("True", cells[3]!.GetValue<string>());
        Assert.Matches("^[0-9]+s$", cells[4]!.GetValue<string>());
        Assert.Equal("PartialObjectMetadata", table["rows"]![0]!["object"]!["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_invalid_CRD_is_rejected_naming_the_field()
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(Widgets.CrdYaml);
        crd.Metadata.Name = "gadgets.example.com";
        var status = await Errors.StatusAsync(() => _f.Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd), (HttpStatusCode)422, "Invalid");
        Assert.Contains("metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Deleting_a_CRD_removes_its_custom_resources_and_stops_serving_them()
    {
        await using var cluster = await LocalCluster.StartAsync();
        using var client = new Kubernetes(cluster.ClientConfiguration);
        await Widgets.InstallAsync(client);
        await client.CustomObjects.CreateNamespacedCustomObjectAsync(Widgets.New("doomed"), Widgets.Group, Widgets.Version, "default", Widgets.Plural);
        await client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync("widgets.example.com");
        await Eventually.GetAsync(async () =>
        {
            try
            {
                await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("widgets.example.com");
                return false;
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return true;
            }
        }, gone => gone, "the CRD to be removed");
        await Errors.StatusAsync(() => client.CustomObjects.ListNamespacedCustomObjectAsync(Widgets.Group, Widgets.Version, "default", Widgets.Plural), HttpStatusCode.NotFound, "NotFound");
    }
}
