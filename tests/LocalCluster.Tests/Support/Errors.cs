using System.Net;
using System.Text.Json.Nodes;
using k8s.Autorest;

namespace Kube.Local.Tests.Support;

/// <summary>Asserts that a client call failed with a metav1.Status of the expected code and reason.</summary>
public static class Errors
{
    public static async Task<JsonObject> StatusAsync(Func<Task> call, HttpStatusCode code, string reason)
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.Equal(code, e.Response.StatusCode);
        var status = JsonNode.Parse(e.Response.Content)!.AsObject();
        Assert.Equal("Status", status["kind"]!.GetValue<string>());
        Assert.Equal("Failure", status["status"]!.GetValue<string>());
        Assert.Equal(reason, status["reason"]!.GetValue<string>());
        Assert.Equal((int)code, status["code"]!.GetValue<int>());
        return status;
    }
}
