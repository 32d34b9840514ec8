using k8s;
using System.Net;
using System.Text;
using Kube.Local.Api;
using Kube.Local.Protobuf;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Protobuf;

/// <summary>The Kubernetes protobuf envelope kubectl's typed create sends.</summary>
public sealed class ProtobufBodyTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public ProtobufBodyTests(ClusterFixture f) => _f = f;

    private static byte[] Field(int number, byte[] payload)
    {
        var bytes = new List<byte>();
        bytes.AddRange(Varint((ulong)((number << 3) | 2)));
        bytes.AddRange(Varint((ulong)payload.Length));
        bytes.AddRange(payload);
        return bytes.ToArray();
    }

    private static byte[] Field(int number, string value) => Field(number, Encoding.UTF8.GetBytes(value));

    private static IEnumerable<byte> Varint(ulong v)
    {
        do
        {
            var b = (byte)(v & 0x7f);
            v >>= 7;
            yield return v == 0 ? b : (byte)(b | 0x80);
        }
        while (v != 0);
    }

    private static byte[] Envelope(string apiVersion, string kind, byte[] raw) =>
        [.. "k8s\0"u8.ToArray(), .. Field(1, [.. Field(1, apiVersion), .. Field(2, kind)]), .. Field(2, raw)];

    private static byte[] ConfigMapRaw(string name) =>
        [.. Field(1, [.. Field(1, name), .. Field(11, [.. Field(1, "app"), .. Field(2, "web")])]), .. Field(2, [.. Field(1, "key"), .. Field(2, "value")])];

    [Fact]
    public void A_ConfigMap_envelope_decodes_metadata_labels_and_data()
    {
        var obj = ProtobufBody.Decode(Envelope("v1", "ConfigMap", ConfigMapRaw("cm")));
        Assert.Equal("ConfigMap", obj["kind"]!.GetValue<string>());
        Assert.Equal("cm", obj["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal("web", obj["metadata"]!["labels"]!["app"]!.GetValue<string>());
        Assert.Equal("value", obj["data"]!["key"]!.GetValue<string>());
    }

    [Fact]
    public void A_Secret_envelope_decodes_bytes_data_as_base64_and_the_type()
    {
        var raw = new byte[][] { Field(1, Field(1, "s")), Field(2, [.. Field(1, "pw"), .. Field(2, [1, 2, 3])]), Field(3, "Opaque") }.SelectMany(b => b).ToArray();
        var obj = ProtobufBody.Decode(Envelope("v1", "Secret", raw));
        Assert.Equal("AQID", obj["data"]!["pw"]!.GetValue<string>());
        Assert.Equal("Opaque", obj["type"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("apps/v1", "Deployment")]
    [InlineData("v1", "Pod")]
    public void Other_kinds_are_refused_with_415_naming_the_kind(string apiVersion, string kind)
    {
        var e = Assert.Throws<ApiError>(() => ProtobufBody.Decode(Envelope(apiVersion, kind, [])));
        Assert.Equal(415, e.Code);
        Assert.Contains(kind, e.Message);
    }

    [Fact]
    public void A_body_without_the_magic_prefix_or_truncated_is_a_clear_error()
    {
        Assert.Equal(415, Assert.Throws<ApiError>(() => ProtobufBody.Decode("{}"u8)).Code);
        var truncated = Envelope("v1", "ConfigMap", ConfigMapRaw("cm"))[..^3];
        Assert.Equal(400, Assert.Throws<ApiError>(() => ProtobufBody.Decode(truncated)).Code);
    }

    [Fact]
    public async Task A_protobuf_create_over_HTTP_stores_the_object_and_answers_JSON()
    {
        var ns = await _f.NamespaceAsync("pb");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps")
        {
            Content = new ByteArrayContent(Envelope("v1", "ConfigMap", ConfigMapRaw("from-proto"))),
        };
        request.Content.Headers.ContentType = new("application/vnd.kubernetes.protobuf");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.kubernetes.protobuf, */*");
        using var response = await _f.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var cm = await _f.Client.CoreV1.ReadNamespacedConfigMapAsync("from-proto", ns);
        Assert.Equal("value", cm.Data["key"]);
    }
}
