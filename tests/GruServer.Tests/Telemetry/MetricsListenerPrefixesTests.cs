using GruServer.Telemetry;

namespace GruServer.Tests.Telemetry;

public sealed class MetricsListenerPrefixesTests
{
    [Theory]
    [InlineData("0.0.0.0", new[] { "http://+:9464/" })]
    [InlineData("::", new[] { "http://+:9464/" })]
    [InlineData("localhost", new[] { "http://localhost:9464/", "http://127.0.0.1:9464/" })]
    [InlineData("127.0.0.1", new[] { "http://127.0.0.1:9464/" })]
    [InlineData("10.1.2.3", new[] { "http://10.1.2.3:9464/" })]
    [InlineData("::1", new[] { "http://[::1]:9464/" })]
    public void PrefixesCoverTheHostAsScrapersAddressIt(string host, string[] expected) =>
        Assert.Equal(expected, MetricsListenerPrefixes.For(host, 9464));
}
