using System.Text;
using GruRegistry.Distribution;

namespace GruRegistry.Tests.Distribution;

/// <summary>dockerconfigjson content as Kubernetes Secrets and ~/.docker/config.json hold it.</summary>
public sealed class RegistryCredentialsTests
{
    [Fact]
    public void ReadsAuthAndUsernamePasswordEntries()
    {
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("robot:pa:ss"));
        var json = $$$"""
            {"auths": {
              "registry.example.com": {"auth": "{{{auth}}}"},
              "https://127.0.0.1:5000/v1/": {"username": "alice", "password": "secret"}
            }}
            """;

        var credentials = RegistryCredentials.FromDockerConfigJson(json, "Secret ml/regcred");

        Assert.Equal(new RegistryCredential("robot", "pa:ss"), credentials.Find("registry.example.com"));
        Assert.Equal(new RegistryCredential("alice", "secret"), credentials.Find("127.0.0.1:5000"));
        Assert.Null(credentials.Find("other.example.com"));
        Assert.DoesNotContain("secret", credentials.Find("127.0.0.1:5000")!.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "Secret ml/regcred is not valid JSON")]
    [InlineData("{\"credsStore\": \"desktop\"}", "Secret ml/regcred has no \"auths\" object")]
    [InlineData("{\"auths\": {\"r\": {\"auth\": \"!!!\"}}}", "auths[\"r\"].auth is not base64")]
    [InlineData("{\"auths\": {\"r\": {\"identitytoken\": \"x\"}}}", "has neither \"auth\" nor \"username\"")]
    public void RefusesUnusableContentNamingWhereItCameFrom(string json, string message)
    {
        var error = Assert.Throws<RegistryException>(() => RegistryCredentials.FromDockerConfigJson(json, "Secret ml/regcred"));

        Assert.Equal(RegistryErrorKind.Local, error.Kind);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
