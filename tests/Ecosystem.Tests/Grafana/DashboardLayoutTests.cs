using System.Text.Json;

namespace Ecosystem.Tests.Grafana;

/// <summary>What Grafana needs to import the dashboard cleanly: unique ids, a place for every panel, one data source.</summary>
public sealed class DashboardLayoutTests
{
    [Fact]
    public void Panels_have_unique_ids_non_overlapping_positions_and_use_the_datasource_variable()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(DashboardQueries.Path));
        var panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToList();

        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        var cells = new HashSet<(int X, int Y)>();
        foreach (var panel in panels)
        {
            var grid = panel.GetProperty("gridPos");
            var (x, y, w, h) = (grid.GetProperty("x").GetInt32(), grid.GetProperty("y").GetInt32(), grid.GetProperty("w").GetInt32(), grid.GetProperty("h").GetInt32());
            Assert.True(x >= 0 && w > 0 && x + w <= 24 && h > 0, $"panel {panel.GetProperty("title")} is outside the 24-column grid");
            for (var i = x; i < x + w; i++)
            {
                for (var j = y; j < y + h; j++)
                {
                    Assert.True(cells.Add((i, j)), $"panel {panel.GetProperty("title")} overlaps another at column {i}, row {j}");
                }
            }

            if (panel.GetProperty("type").GetString() == "row") continue;
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.NotEmpty(panel.GetProperty("targets").EnumerateArray());
        }

        Assert.Equal("gru-model", doc.RootElement.GetProperty("uid").GetString());
    }
}
