from models import Product
from orm import Q


async def test_create_and_filter(session: object) -> None:
    await Product.objects.create(name="Hammer", price="12.50", category="Tools")
    await Product.objects.create(name="Saw", price="20", category="Tools", in_stock=False)
    assert await Product.objects.count() == 2
    rows = await Product.objects.filter(Q(name="Hammer") | Q(in_stock=False)).order_by("-price")
    assert [p.name for p in rows] == ["Saw", "Hammer"]
