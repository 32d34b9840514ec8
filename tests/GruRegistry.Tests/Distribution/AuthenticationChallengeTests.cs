using GruRegistry.Distribution;

namespace GruRegistry.Tests.Distribution;

/// <summary>WWW-Authenticate parsing as registries send it.</summary>
public sealed class AuthenticationChallengeTests
{
    [Fact]
    public void KeepsCommasInsideQuotedScopes()
    {
        var challenge = AuthenticationChallenge.Parse("Bearer",
            "realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:models/recs:pull,push\"");

        Assert.True(challenge.IsBearer);
        Assert.Equal("https://auth.example.com/token", challenge["realm"]);
        Assert.Equal("registry.example.com", challenge["service"]);
        Assert.Equal("repository:models/recs:pull,push", challenge["scope"]);
    }

    [Fact]
    public void ReadsUnquotedValuesAndEscapes()
    {
        var challenge = AuthenticationChallenge.Parse("Basic", "realm=\"a \\\"quoted\\\" realm\", charset=UTF-8");

        Assert.True(challenge.IsBasic);
        Assert.Equal("a \"quoted\" realm", challenge["realm"]);
        Assert.Equal("UTF-8", challenge["charset"]);
    }
}
