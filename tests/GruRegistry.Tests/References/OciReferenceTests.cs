using GruRegistry.References;

namespace GruRegistry.Tests.References;

/// <summary>Reference parsing: the forms the operator and gru-model accept, and errors that name the reference.</summary>
public sealed class OciReferenceTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    public static TheoryData<string, string, string, string?, string?> Valid => new()
    {
        { "oci://registry.example.com/models/recs:1.0", "registry.example.com", "models/recs", "1.0", null },
        { "oci://127.0.0.1:5000/m:v1", "127.0.0.1:5000", "m", "v1", null },
        { $"oci://127.0.0.1:5000/team/a/b@sha256:{Hex}", "127.0.0.1:5000", "team/a/b", null, $"sha256:{Hex}" },
        { $"oci://reg:443/m:latest@sha256:{Hex}", "reg:443", "m", "latest", $"sha256:{Hex}" },
        { "oci://[::1]:5000/a__b-c.d:T_1", "[::1]:5000", "a__b-c.d", "T_1", null },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void ParsesRegistryRepositoryTagAndDigest(string text, string registry, string repository, string? tag, string? digest)
    {
        var reference = OciReference.Parse(text);

        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.ToString());
        Assert.Equal(digest ?? tag, reference.ManifestReference);
        Assert.Equal(text, reference.ToString());
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { "https://reg/m:1", "is not an OCI reference" },
        { "oci://reg", "names no registry host or no repository" },
        { "oci://reg/Models:1", "'Models' is not a valid repository name" },
        { "oci://reg/m", "names neither a tag nor a digest" },
        { "oci://reg/m:-bad", "'-bad' is not a valid tag" },
        { "oci://reg/m@sha256:abc", "is not a sha256 digest" },
        { $"oci://reg/m@sha512:{Hex}", "uses the digest algorithm 'sha512'" },
        { "oci://re g/m:1", "is not a registry host[:port]" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void RefusesMalformedReferencesNamingThem(string text, string message)
    {
        var ok = OciReference.TryParse(text, out _, out var error);

        Assert.False(ok);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Contains(text, error, StringComparison.Ordinal);
    }

    [Fact]
    public void DigestsAreCanonicalLowercaseSha256()
    {
        Assert.Equal($"sha256:{Hex}", Sha256Digest.Parse($"sha256:{Hex}").ToString());
        Assert.False(Sha256Digest.TryParse($"sha256:{Hex.ToUpperInvariant()}", out _, out _));
        Assert.Equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Sha256Digest.Of([]).ToString());
    }
}
