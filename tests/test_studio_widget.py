"""The studio page through its Python twins: the panel's Generate fills the gallery, Compare fills a grid."""

from __future__ import annotations

import pytest

from dalle_kit import InvalidRequest, Kit
from dalle_kit.widgets import Studio
from dalle_kit.widgets.studio import AXES


@pytest.fixture
def studio(tmp_path):
    with Kit(home=tmp_path, quiet=True) as kit:
        yield Studio(kit)


def test_the_page_says_it_is_offline_and_holds_the_four_parts(studio):
    banner = studio.children[0].value
    assert "Offline" in banner and "SIMULATED" in banner
    assert studio.gallery.page.total == 0 and studio.compare_grid.children == ()


def test_generate_in_the_panel_shows_in_the_gallery(studio):
    studio.panel.set_prompt("a red kite over the sea")
    studio.panel.generate()
    assert studio.gallery.page.total == 1  # re-read when the panel stopped being busy


def test_compare_fills_a_grid_and_the_gallery(studio):
    grid = studio.compare("a lighthouse", "quality: low · medium · high")
    assert len(grid.cells) == 3 and studio.compare_grid.children == (grid.widget,)
    assert studio.compare_note.value == "" and studio.gallery.page.total == 3  # the grid's header says it
    assert set(AXES) == set(studio.compare_axis.options)


def test_a_refused_comparison_shows_on_the_page_and_the_button_comes_back(studio, monkeypatch):
    def refuse(*args, **kwargs):
        raise InvalidRequest("size='13x7' is refused", param="size", value="13x7")

    monkeypatch.setattr(studio.kit, "compare", refuse)
    studio.compare_button.click()  # the button: the error stays on the page
    assert "dk-error" in studio.compare_note.value and "13x7" in studio.compare_note.value
    assert not studio.compare_button.disabled
    with pytest.raises(InvalidRequest):  # the twin raises like any call
        studio.compare("a cat")
